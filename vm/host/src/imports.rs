//! The host functions of the ABI (module `tao`, documented in `taochain-vm-abi`), each
//! charged from the gas table before it does any work. Guest pointers are checked against
//! the memory size; a bad range traps the call. Writes, events and sends trap in a
//! read-only `query`.

use sha2::{Digest, Sha256};
use taochain_vm_abi::{ABSENT, ERR_DEPTH, ERR_QUERY_FAILED, Event, Record};
use wasmparser::ValType;
use wasmtime::{Caller, Extern, Linker, StoreLimits};
use wasmtime::{Result, bail, format_err as anyhow};

use crate::host::{Host, HostError};
use crate::limits::{
    FUEL_PER_GAS, MAX_EVENTS, MAX_IO_BYTES, MAX_KEY_BYTES, MAX_QUERY_DEPTH, MAX_VALUE_BYTES, gas,
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
    pub(crate) depth: u32,
    pub(crate) limits: StoreLimits,
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
    let amount = amount.saturating_mul(FUEL_PER_GAS);
    let fuel = c.get_fuel()?;
    if fuel < amount {
        c.set_fuel(0)?;
        return Err(OutOfGas.into());
    }
    c.set_fuel(fuel - amount)?;
    Ok(())
}

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
    match c.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => bail!("the module exports no memory"),
    }
}

fn range(ptr: i32, len: i32, size: usize) -> Result<std::ops::Range<usize>> {
    let (start, len) = (u32::try_from(ptr)? as usize, u32::try_from(len)? as usize);
    let end = start
        .checked_add(len)
        .filter(|e| *e <= size)
        .ok_or_else(|| anyhow!("pointer range {start}+{len} is outside memory ({size} bytes)"))?;
    Ok(start..end)
}

/// Refuses a negative length or one above `limit` (before any gas is charged for it).
fn check_len(len: i32, limit: usize) -> Result<()> {
    if len < 0 || len as usize > limit {
        bail!("length {len} exceeds the limit {limit}");
    }
    Ok(())
}

fn read(c: &mut C<'_>, ptr: i32, len: i32, limit: usize) -> Result<Vec<u8>> {
    check_len(len, limit)?;
    let mem = memory(c)?;
    let r = range(ptr, len, mem.data_size(&*c))?;
    Ok(mem.data(&*c)[r].to_vec())
}

fn write(c: &mut C<'_>, ptr: i32, bytes: &[u8]) -> Result<()> {
    let mem = memory(c)?;
    let len = i32::try_from(bytes.len())?;
    let r = range(ptr, len, mem.data_size(&*c))?;
    mem.data_mut(&mut *c)[r].copy_from_slice(bytes);
    Ok(())
}

/// Copies `min(len, cap)` bytes of `value` to `out` and returns the full length.
fn write_capped(c: &mut C<'_>, out: i32, cap: i32, value: &[u8]) -> Result<i64> {
    let cap = usize::try_from(cap)?;
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

/// Defines every import on `linker`.
pub fn link(linker: &mut Linker<StoreData>) -> Result<()> {
    let m = taochain_vm_abi::IMPORT_MODULE;
    linker.func_wrap(m, "input_len", |mut c: C<'_>| -> Result<i32> {
        charge(&mut c, gas::IO_BASE)?;
        Ok(i32::try_from(c.data().input.len())?)
    })?;
    linker.func_wrap(m, "input_read", |mut c: C<'_>, ptr: i32| -> Result<()> {
        let input = std::mem::take(&mut c.data_mut().input);
        let result = charge(&mut c, gas::IO_BASE + per_byte(input.len()))
            .and_then(|()| write(&mut c, ptr, &input));
        c.data_mut().input = input;
        result
    })?;
    linker.func_wrap(
        m,
        "set_result",
        |mut c: C<'_>, ptr: i32, len: i32| -> Result<()> {
            check_len(len, MAX_IO_BYTES)?;
            charge(&mut c, gas::IO_BASE + per_byte(len.max(0) as usize))?;
            let out = read(&mut c, ptr, len, MAX_IO_BYTES)?;
            c.data_mut().output = out;
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "storage_get",
        |mut c: C<'_>, k: i32, kl: i32, out: i32, cap: i32| -> Result<i64> {
            charge(&mut c, gas::STORAGE_READ + per_byte(kl.max(0) as usize))?;
            let key = read(&mut c, k, kl, MAX_KEY_BYTES)?;
            match host(&mut c).storage_get(&key) {
                Err(e) => Err(host_failed(&mut c, e)),
                Ok(None) => Ok(ABSENT),
                Ok(Some(v)) => {
                    charge(&mut c, per_byte(v.len()))?;
                    write_capped(&mut c, out, cap, &v)
                }
            }
        },
    )?;
    linker.func_wrap(
        m,
        "storage_set",
        |mut c: C<'_>, k: i32, kl: i32, v: i32, vl: i32| -> Result<()> {
            writable(&c, "storage_set")?;
            charge(
                &mut c,
                gas::STORAGE_WRITE + per_byte((kl.max(0) + vl.max(0)) as usize),
            )?;
            let key = read(&mut c, k, kl, MAX_KEY_BYTES)?;
            let value = read(&mut c, v, vl, MAX_VALUE_BYTES)?;
            host(&mut c)
                .storage_set(&key, &value)
                .map_err(|e| host_failed(&mut c, e))
        },
    )?;
    linker.func_wrap(
        m,
        "storage_remove",
        |mut c: C<'_>, k: i32, kl: i32| -> Result<()> {
            writable(&c, "storage_remove")?;
            charge(&mut c, gas::STORAGE_WRITE + per_byte(kl.max(0) as usize))?;
            let key = read(&mut c, k, kl, MAX_KEY_BYTES)?;
            host(&mut c)
                .storage_remove(&key)
                .map_err(|e| host_failed(&mut c, e))
        },
    )?;
    linker.func_wrap(
        m,
        "storage_next",
        |mut c: C<'_>, s: i32, sl: i32, e: i32, el: i32, out: i32, cap: i32| -> Result<i64> {
            charge(
                &mut c,
                gas::STORAGE_NEXT + per_byte((sl.max(0) + el.max(0)) as usize),
            )?;
            let start = read(&mut c, s, sl, MAX_KEY_BYTES)?;
            let end = read(&mut c, e, el, MAX_KEY_BYTES)?;
            let end = if end.is_empty() {
                None
            } else {
                Some(end.as_slice())
            };
            match host(&mut c).storage_next(&start, end) {
                Err(e) => Err(host_failed(&mut c, e)),
                Ok(None) => Ok(ABSENT),
                Ok(Some((key, value))) => {
                    let bytes = borsh::to_vec(&Record { key, value })?;
                    charge(&mut c, per_byte(bytes.len()))?;
                    write_capped(&mut c, out, cap, &bytes)
                }
            }
        },
    )?;
    linker.func_wrap(
        m,
        "sha256",
        |mut c: C<'_>, p: i32, l: i32, out: i32| -> Result<()> {
            charge(&mut c, gas::SHA256_BASE + per_byte(l.max(0) as usize))?;
            let data = read(&mut c, p, l, MAX_IO_BYTES)?;
            let digest: [u8; 32] = Sha256::digest(&data).into();
            write(&mut c, out, &digest)
        },
    )?;
    linker.func_wrap(
        m,
        "blob_pin",
        |mut c: C<'_>, p: i32, pin: i32| -> Result<i32> {
            writable(&c, "blob_pin")?;
            charge(&mut c, gas::BLOB_PIN)?;
            let bytes = read(&mut c, p, 32, 32)?;
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&bytes);
            match host(&mut c).blob_pin(&hash, pin != 0) {
                Err(e) => Err(host_failed(&mut c, e)),
                Ok(Some(pins)) => Ok(i32::try_from(pins).unwrap_or(i32::MAX)),
                Ok(None) => Ok(taochain_vm_abi::ERR_MISSING_BLOB),
            }
        },
    )?;
    linker.func_wrap(m, "subnet_uid", |mut c: C<'_>, p: i32| -> Result<i32> {
        charge(&mut c, gas::SUBNET_UID)?;
        let bytes = read(&mut c, p, 20, 20)?;
        let mut hotkey = [0u8; 20];
        hotkey.copy_from_slice(&bytes);
        match host(&mut c).subnet_uid(&hotkey) {
            Err(e) => Err(host_failed(&mut c, e)),
            Ok(Some(uid)) => Ok(i32::from(uid)),
            Ok(None) => Ok(taochain_vm_abi::ERR_NOT_REGISTERED),
        }
    })?;
    linker.func_wrap(m, "verify_matmul", |mut c: C<'_>, p: i32| -> Result<i32> {
        charge(&mut c, gas::VERIFY_MATMUL_BASE)?;
        let bytes = read(&mut c, p, 96, 96)?;
        let hash = |i: usize| -> [u8; 32] {
            let mut h = [0u8; 32];
            h.copy_from_slice(&bytes[32 * i..32 * (i + 1)]);
            h
        };
        let (a, b, cm) = (hash(0), hash(1), hash(2));
        // Charge for every byte the check will read before it reads any.
        let mut total: u64 = 0;
        for h in [&a, &b, &cm] {
            match host(&mut c).blob_len(h) {
                Err(e) => return Err(host_failed(&mut c, e)),
                Ok(None) => return Ok(taochain_vm_abi::ERR_MISSING_BLOB),
                Ok(Some(n)) => total = total.saturating_add(n),
            }
        }
        charge(&mut c, total.saturating_mul(gas::VERIFY_MATMUL_PER_BYTE))?;
        match host(&mut c).verify_matmul(&a, &b, &cm) {
            Err(e) => Err(host_failed(&mut c, e)),
            Ok(v) => Ok(v),
        }
    })?;
    linker.func_wrap(
        m,
        "ed25519_verify",
        |mut c: C<'_>, mp: i32, ml: i32, sp: i32, pp: i32| -> Result<i32> {
            charge(&mut c, gas::ED25519_VERIFY + per_byte(ml.max(0) as usize))?;
            let msg = read(&mut c, mp, ml, MAX_IO_BYTES)?;
            let sig: [u8; 64] = read(&mut c, sp, 64, 64)?
                .try_into()
                .map_err(|_| anyhow!("signature"))?;
            let pk: [u8; 32] = read(&mut c, pp, 32, 32)?
                .try_into()
                .map_err(|_| anyhow!("public key"))?;
            let ok = ed25519_dalek::VerifyingKey::from_bytes(&pk)
                .map(|k| {
                    k.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
                        .is_ok()
                })
                .unwrap_or(false);
            Ok(i32::from(ok))
        },
    )?;
    linker.func_wrap(
        m,
        "emit_event",
        |mut c: C<'_>, p: i32, l: i32| -> Result<()> {
            writable(&c, "emit_event")?;
            charge(&mut c, gas::EVENT_BASE + per_byte(l.max(0) as usize))?;
            let bytes = read(&mut c, p, l, MAX_VALUE_BYTES)?;
            let event: Event =
                borsh::from_slice(&bytes).map_err(|e| anyhow!("event does not decode: {e}"))?;
            if c.data().events.len() >= MAX_EVENTS {
                bail!("more than {MAX_EVENTS} events");
            }
            c.data_mut().events.push(event);
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "bank_send",
        |mut c: C<'_>, to: i32, amount: i64| -> Result<i32> {
            writable(&c, "bank_send")?;
            charge(&mut c, gas::BANK_SEND)?;
            let to: [u8; 20] = read(&mut c, to, 20, 20)?
                .try_into()
                .map_err(|_| anyhow!("address"))?;
            let Ok(amount) = u64::try_from(amount) else {
                return Ok(taochain_vm_abi::ERR_INVALID);
            };
            match host(&mut c).bank_send(to, amount) {
                Err(e) => Err(host_failed(&mut c, e)),
                Ok(Ok(())) => Ok(0),
                Ok(Err(code)) => Ok(code),
            }
        },
    )?;
    linker.func_wrap(
        m,
        "query_contract",
        |mut c: C<'_>, a: i32, mp: i32, ml: i32, out: i32, cap: i32| -> Result<i64> {
            charge(&mut c, gas::QUERY_BASE + per_byte(ml.max(0) as usize))?;
            let addr: [u8; 20] = read(&mut c, a, 20, 20)?
                .try_into()
                .map_err(|_| anyhow!("address"))?;
            let msg = read(&mut c, mp, ml, MAX_IO_BYTES)?;
            let depth = c.data().depth + 1;
            if depth > MAX_QUERY_DEPTH {
                let text = format!("query depth limit {MAX_QUERY_DEPTH} reached");
                write_capped(&mut c, out, cap, text.as_bytes())?;
                return Ok(ERR_DEPTH);
            }
            let budget = c.get_fuel()? / FUEL_PER_GAS;
            let (used, result) = match host(&mut c).query_contract(addr, &msg, depth, budget) {
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
        },
    )?;
    // Not part of the ABI: added by `instrument` before every bulk memory/table operation.
    linker.func_wrap(
        m,
        crate::instrument::BULK_GAS_IMPORT,
        |mut c: C<'_>, len: i32| -> Result<()> {
            let len = u64::from(len as u32);
            charge(
                &mut c,
                len.div_ceil(8).saturating_mul(gas::BULK_PER_8_BYTES),
            )
        },
    )?;
    linker.func_wrap(m, "debug", |mut c: C<'_>, p: i32, l: i32| -> Result<()> {
        charge(&mut c, gas::DEBUG_BASE + per_byte(l.max(0) as usize))?;
        let bytes = read(&mut c, p, l, 4096)?;
        c.data_mut()
            .debug
            .push(String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    })?;
    Ok(())
}

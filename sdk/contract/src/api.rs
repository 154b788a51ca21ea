//! The host API as a trait: [`WasmApi`] calls the real imports inside the VM;
//! [`crate::testing::MockApi`] implements it natively for tests.

use taochain_vm_abi::Event;

/// What a contract can ask of the chain (see `taochain-vm-abi` for costs and semantics).
pub trait Api {
    /// A value in this contract's storage.
    fn storage_get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Sets a value (traps in a query).
    fn storage_set(&mut self, key: &[u8], value: &[u8]);
    /// Removes a value (traps in a query).
    fn storage_remove(&mut self, key: &[u8]);
    /// The first entry with `start <= key < end` (`end` empty: unbounded).
    fn storage_next(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)>;
    /// sha256.
    fn sha256(&self, data: &[u8]) -> [u8; 32];
    /// ed25519 signature check.
    fn ed25519_verify(&self, msg: &[u8], sig: &[u8; 64], public_key: &[u8; 32]) -> bool;
    /// Emits an event.
    fn emit_event(&mut self, event: &Event);
    /// Sends rao from this contract's account; `Err(code)` when refused.
    fn bank_send(&mut self, to: &[u8; 20], amount: u64) -> Result<(), i32>;
    /// Queries another contract; `Err(text)` when it failed or the depth limit was hit.
    fn query_contract(&self, contract: &[u8; 20], msg: &[u8]) -> Result<Vec<u8>, String>;
    /// A debug line (not consensus).
    fn debug(&self, line: &str);
    /// Checks `C = A * B` for three stored `.npy` blobs (by sha256): `MATMUL_VALID`,
    /// `MATMUL_INVALID`, `ERR_MISSING_BLOB` or `ERR_BAD_STATEMENT` (`taochain-vm-abi`).
    fn verify_matmul(&self, a: &[u8; 32], b: &[u8; 32], c: &[u8; 32]) -> i32;
    /// The UID `hotkey` holds on the subnet this contract runs (`None`: not registered).
    fn subnet_uid(&self, hotkey: &[u8; 20]) -> Option<u16>;
    /// Adds (`pin`) or removes one of this contract's pins on a stored blob; the pins left
    /// (`None`: no such blob). A blob's last unpin prunes it (traps in a query).
    fn blob_pin(&mut self, hash: &[u8; 32], pin: bool) -> Option<u32>;
}

#[cfg(target_arch = "wasm32")]
pub use wasm::WasmApi;

/// The raw I/O imports the entry macro uses.
#[cfg(target_arch = "wasm32")]
pub mod wasm_io {
    pub use super::wasm::{input_len, input_read, set_result};
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod wasm {
    //! The real imports. SAFETY (for every call below): pointers and lengths describe live
    //! Rust buffers of this module's memory; the host checks every range anyway.
    use super::Api;
    use taochain_vm_abi::{ABSENT, Event, Record};

    #[link(wasm_import_module = "tao")]
    unsafe extern "C" {
        /// Length of the call input.
        pub fn input_len() -> i32;
        /// Copies the call input to `ptr`.
        pub fn input_read(ptr: *mut u8);
        /// Sets the entry's output.
        pub fn set_result(ptr: *const u8, len: i32);
        fn storage_get(k: *const u8, kl: i32, out: *mut u8, cap: i32) -> i64;
        fn storage_set(k: *const u8, kl: i32, v: *const u8, vl: i32);
        fn storage_remove(k: *const u8, kl: i32);
        fn storage_next(
            s: *const u8,
            sl: i32,
            e: *const u8,
            el: i32,
            out: *mut u8,
            cap: i32,
        ) -> i64;
        fn sha256(p: *const u8, l: i32, out: *mut u8);
        fn ed25519_verify(m: *const u8, ml: i32, s: *const u8, p: *const u8) -> i32;
        fn emit_event(p: *const u8, l: i32);
        fn bank_send(to: *const u8, amount: i64) -> i32;
        fn query_contract(a: *const u8, m: *const u8, ml: i32, out: *mut u8, cap: i32) -> i64;
        fn debug(p: *const u8, l: i32);
        fn verify_matmul(hashes: *const u8) -> i32;
        fn subnet_uid(hotkey: *const u8) -> i32;
        fn blob_pin(hash: *const u8, pin: i32) -> i32;
    }

    /// Calls `f(out, cap)` with a growing buffer until the result fits.
    fn fetch(f: impl Fn(*mut u8, i32) -> i64) -> (i64, Vec<u8>) {
        let mut buf = vec![0u8; 256];
        loop {
            let n = f(buf.as_mut_ptr(), buf.len() as i32);
            if n < 0 {
                // An error: the host wrote up to `cap` bytes of text.
                let len = buf.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
                buf.truncate(len);
                return (n, buf);
            }
            if (n as usize) <= buf.len() {
                buf.truncate(n as usize);
                return (n, buf);
            }
            buf = vec![0u8; n as usize];
        }
    }

    /// The host API inside the VM.
    pub struct WasmApi;

    impl Api for WasmApi {
        fn storage_get(&self, key: &[u8]) -> Option<Vec<u8>> {
            let (n, v) = fetch(|o, c| unsafe { storage_get(key.as_ptr(), key.len() as i32, o, c) });
            (n != ABSENT).then_some(v)
        }
        fn storage_set(&mut self, key: &[u8], value: &[u8]) {
            unsafe {
                storage_set(
                    key.as_ptr(),
                    key.len() as i32,
                    value.as_ptr(),
                    value.len() as i32,
                )
            }
        }
        fn storage_remove(&mut self, key: &[u8]) {
            unsafe { storage_remove(key.as_ptr(), key.len() as i32) }
        }
        fn storage_next(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
            let (n, v) = fetch(|o, c| unsafe {
                storage_next(
                    start.as_ptr(),
                    start.len() as i32,
                    end.as_ptr(),
                    end.len() as i32,
                    o,
                    c,
                )
            });
            if n == ABSENT {
                return None;
            }
            borsh::from_slice::<Record>(&v)
                .ok()
                .map(|r| (r.key, r.value))
        }
        fn sha256(&self, data: &[u8]) -> [u8; 32] {
            let mut out = [0u8; 32];
            unsafe { sha256(data.as_ptr(), data.len() as i32, out.as_mut_ptr()) };
            out
        }
        fn ed25519_verify(&self, msg: &[u8], sig: &[u8; 64], pk: &[u8; 32]) -> bool {
            unsafe {
                ed25519_verify(msg.as_ptr(), msg.len() as i32, sig.as_ptr(), pk.as_ptr()) == 1
            }
        }
        fn emit_event(&mut self, event: &Event) {
            let bytes = borsh::to_vec(event).unwrap_or_default();
            unsafe { emit_event(bytes.as_ptr(), bytes.len() as i32) }
        }
        fn blob_pin(&mut self, hash: &[u8; 32], pin: bool) -> Option<u32> {
            u32::try_from(unsafe { blob_pin(hash.as_ptr(), i32::from(pin)) }).ok()
        }
        fn subnet_uid(&self, hotkey: &[u8; 20]) -> Option<u16> {
            u16::try_from(unsafe { subnet_uid(hotkey.as_ptr()) }).ok()
        }
        fn verify_matmul(&self, a: &[u8; 32], b: &[u8; 32], c: &[u8; 32]) -> i32 {
            let mut hashes = [0u8; 96];
            hashes[..32].copy_from_slice(a);
            hashes[32..64].copy_from_slice(b);
            hashes[64..].copy_from_slice(c);
            unsafe { verify_matmul(hashes.as_ptr()) }
        }
        fn bank_send(&mut self, to: &[u8; 20], amount: u64) -> Result<(), i32> {
            match unsafe { bank_send(to.as_ptr(), amount as i64) } {
                0 => Ok(()),
                code => Err(code),
            }
        }
        fn query_contract(&self, contract: &[u8; 20], msg: &[u8]) -> Result<Vec<u8>, String> {
            let (n, v) = fetch(|o, c| unsafe {
                query_contract(contract.as_ptr(), msg.as_ptr(), msg.len() as i32, o, c)
            });
            if n >= 0 {
                Ok(v)
            } else {
                Err(String::from_utf8_lossy(&v).into_owned())
            }
        }
        fn debug(&self, line: &str) {
            unsafe { debug(line.as_ptr(), line.len() as i32) }
        }
    }
}

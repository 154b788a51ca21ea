//! The chain side of a contract call, as the VM sees it. `taochain-app` implements it over
//! its state; tests implement it over a `BTreeMap`. Keys are the contract's own: the
//! implementation adds the namespace.

/// A failure of the chain itself (disk, corruption): never the contract's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host failure: {0}")]
pub struct HostError(pub String);

/// One storage entry: key (without namespace) and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What [`Host::storage_next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The first entry in range (`None`: none), and how many entries deleted by pending
    /// writes were stepped over to find it (the VM charges for each).
    Found(Option<Entry>, u64),
    /// More than the allowed number of deleted entries lay in the way: the call has run
    /// out of the gas that would pay for stepping over them.
    TooManySkips,
}

/// State and effects available to a running contract.
pub trait Host {
    /// The value under `key` in the contract's namespace.
    fn storage_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError>;
    /// Sets `key` (never called by the VM during a query).
    fn storage_set(&mut self, key: &[u8], value: &[u8]) -> Result<(), HostError>;
    /// Removes `key` (never called by the VM during a query).
    fn storage_remove(&mut self, key: &[u8]) -> Result<(), HostError>;
    /// The first entry with `start <= key` and `key < end` (`None`: unbounded), stepping
    /// over at most `max_skips` entries that pending writes deleted.
    fn storage_next(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        max_skips: u64,
    ) -> Result<Next, HostError>;
    /// Sends `amount` rao from the contract's account to `to`. `Ok(Err(code))` is a
    /// refusal the contract sees (`ERR_INSUFFICIENT_FUNDS`, `ERR_INVALID`).
    fn bank_send(&mut self, to: [u8; 20], amount: u64) -> Result<Result<(), i32>, HostError>;
    /// Runs `query` of another contract with `msg`, `depth` levels deep, with at most
    /// `gas` gas. Returns the gas it used and its output or error text.
    fn query_contract(
        &self,
        contract: [u8; 20],
        msg: &[u8],
        depth: u32,
        gas: u64,
    ) -> Result<(u64, Result<Vec<u8>, String>), HostError>;
    /// The UID `hotkey` holds on the subnet this contract runs (`None`: not registered, or
    /// the contract runs no subnet). Hosts without subnets keep the default.
    fn subnet_uid(&self, _hotkey: &[u8; 20]) -> Result<Option<u16>, HostError> {
        Ok(None)
    }
    /// Adds (`pin`) or removes a pin of a stored blob; the pins left, or the ABI's error
    /// code (`ERR_MISSING_BLOB`, `ERR_BLOB_NOT_OWNED`). The last unpin prunes the blob.
    /// Hosts without blobs keep the default.
    fn blob_pin(&mut self, _hash: &[u8; 32], _pin: bool) -> Result<Result<u32, i32>, HostError> {
        Ok(Err(taochain_vm_abi::ERR_MISSING_BLOB))
    }
    /// Size of a stored blob (`None`: not stored). The VM charges for the bytes before
    /// [`Host::verify_matmul`] reads them. Hosts without blobs keep the default.
    fn blob_len(&self, _hash: &[u8; 32]) -> Result<Option<u64>, HostError> {
        Ok(None)
    }
    /// The shape `(m, k, n)` of the statement three stored `.npy` blobs make, read from
    /// their headers only, after the VM has charged for the blobs' bytes and before it
    /// charges for the check itself (which depends on the shape). `Ok(Err(code))`:
    /// `ERR_MISSING_BLOB` or `ERR_BAD_STATEMENT` (bad headers, zero or unbounded dimensions,
    /// dimensions that do not chain). Hosts without blobs keep the default.
    fn matmul_shape(
        &self,
        _a: &[u8; 32],
        _b: &[u8; 32],
        _c: &[u8; 32],
    ) -> Result<Result<[u64; 3], i32>, HostError> {
        Ok(Err(taochain_vm_abi::ERR_MISSING_BLOB))
    }
    /// Whether `debug` lines are kept (offline runs and tests). The chain keeps none: on
    /// chain a `debug` call is charged and dropped.
    fn keeps_debug(&self) -> bool {
        false
    }
    /// Checks `C = A * B` for three stored `.npy` blobs with the host's verifier and seed:
    /// one of `MATMUL_VALID`, `MATMUL_INVALID`, `ERR_MISSING_BLOB`, `ERR_BAD_STATEMENT`.
    fn verify_matmul(
        &mut self,
        _a: &[u8; 32],
        _b: &[u8; 32],
        _c: &[u8; 32],
    ) -> Result<i32, HostError> {
        Ok(taochain_vm_abi::ERR_MISSING_BLOB)
    }
}

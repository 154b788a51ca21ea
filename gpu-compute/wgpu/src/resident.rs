//! Matrices kept on the device between checks, keyed by the content hash of the blob each
//! was parsed from (the chain stores blobs under their sha256, so a key names one matrix).
//! A miss uploads the matrix once; a hit binds the buffer already there, so a discrete GPU
//! checking the same A and B again (many submissions for one job, a second validator pass)
//! reads them at device bandwidth instead of over PCIe. Bounded twice: by bytes (least
//! recently used first out) and by entries (each is a device allocation). Only matrices
//! that fit one storage binding are kept; larger ones are streamed in chunks as before.

use std::collections::BTreeMap;

/// Most matrices kept at once (each is one device allocation).
pub const MAX_RESIDENT_ENTRIES: usize = 256;
/// Default byte budget of the cache.
pub const DEFAULT_RESIDENT_BYTES: u64 = 1 << 30;

/// What the cache holds and how it has done since the verifier was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResidentStats {
    /// Matrices on the device.
    pub entries: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The byte budget.
    pub budget: u64,
    /// Lookups served from the device.
    pub hits: u64,
    /// Lookups that uploaded.
    pub misses: u64,
}

/// One resident matrix: its buffer, what it holds, and when it was last used.
struct Entry {
    buffer: wgpu::Buffer,
    /// `(bytes, rows, cols, element bytes)`: a key reused for another shape is not trusted.
    shape: [u64; 4],
    used: u64,
}

/// The answer of [`Resident::lookup`].
pub(crate) enum Lookup {
    /// On the device.
    Hit(wgpu::Buffer),
    /// Not there: upload it and [`Resident::insert`] it.
    Miss,
    /// Not to be kept (larger than the budget, or a key seen with another shape): stream it.
    Refused,
}

/// The cache (behind the verifier's mutex).
pub(crate) struct Resident {
    budget: u64,
    clock: u64,
    bytes: u64,
    hits: u64,
    misses: u64,
    entries: BTreeMap<[u8; 32], Entry>,
}

impl Resident {
    pub(crate) fn new(budget: u64) -> Self {
        Resident {
            budget,
            clock: 0,
            bytes: 0,
            hits: 0,
            misses: 0,
            entries: BTreeMap::new(),
        }
    }

    pub(crate) fn stats(&self) -> ResidentStats {
        ResidentStats {
            entries: self.entries.len(),
            bytes: self.bytes,
            budget: self.budget,
            hits: self.hits,
            misses: self.misses,
        }
    }

    /// Sets the budget, evicting until the cache fits it.
    pub(crate) fn set_budget(&mut self, budget: u64) {
        self.budget = budget;
        self.evict_until(0, 0);
    }

    /// The device buffer holding the matrix `key` of `shape` (`[bytes, rows, cols,
    /// element bytes]`, bytes a multiple of 4).
    pub(crate) fn lookup(&mut self, key: &[u8; 32], shape: [u64; 4]) -> Lookup {
        self.clock += 1;
        match self.entries.get_mut(key) {
            Some(e) if e.shape == shape => {
                e.used = self.clock;
                self.hits += 1;
                Lookup::Hit(e.buffer.clone())
            }
            // The same key with another shape: not a blob hash, so never trusted.
            Some(_) => Lookup::Refused,
            None if shape[0] > self.budget => Lookup::Refused,
            None => Lookup::Miss,
        }
    }

    /// Keeps `buffer`, just uploaded after a [`Lookup::Miss`] of `key`, evicting what no
    /// longer fits.
    pub(crate) fn insert(&mut self, key: [u8; 32], shape: [u64; 4], buffer: wgpu::Buffer) {
        self.evict_until(shape[0], 1);
        self.misses += 1;
        self.bytes += shape[0];
        let used = self.clock;
        if let Some(old) = self.entries.insert(
            key,
            Entry {
                buffer,
                shape,
                used,
            },
        ) {
            self.bytes -= old.shape[0];
        }
    }

    /// Drops least recently used entries until `extra` more bytes and `slots` more entries
    /// fit. A dropped buffer in use by a check stays alive until that check ends.
    fn evict_until(&mut self, extra: u64, slots: usize) {
        while !self.entries.is_empty()
            && (self.bytes.saturating_add(extra) > self.budget
                || self.entries.len() + slots > MAX_RESIDENT_ENTRIES)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest
                && let Some(e) = self.entries.remove(&k)
            {
                self.bytes -= e.shape[0];
            }
        }
    }
}

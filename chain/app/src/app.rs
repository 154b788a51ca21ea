//! [`App`]: the ABCI-shaped entry points over committed storage.
//!
//! Three independent locks, never held together: the consensus state (genesis waiting for
//! block 1, the prepared commit between `FinalizeBlock` and `Commit`), the mempool state,
//! and storage itself (RocksDB, safe to read concurrently). Queries take no lock.

use std::sync::{Arc, Mutex, MutexGuard};

use taochain_primitives::Params;
use taochain_primitives::audit::AUDIT_PATH;
use taochain_storage::schema::{CHAIN_ID_KEY, PARAMS_KEY};
use taochain_storage::{Blobs, Changes, PreparedCommit, StateDelta, StateRead, Storage};
use taochain_vm::Vm;
use taochain_work::{CpuVerifier, Verifier};

use crate::audit::Audits;
use crate::checks::Rejection;
use crate::deliver::{Context, deliver};
use crate::emission::mint_block_reward;
use crate::mempool::{Included, MempoolState};
use crate::observe::{Observer, Phase, Stage, Unobserved};
use crate::proposal;
use crate::query::QueryOutcome;
use crate::signatures::{Verified, check_block_streaming};
use crate::typed::get_or_default;
use crate::{AppError, Event, Genesis};

/// The result of one transaction (CheckTx or FinalizeBlock).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxOutcome {
    /// 0 on success, else a [`taochain_primitives::RejectCode`].
    pub code: u32,
    /// What was wrong, when `code != 0`.
    pub log: String,
    /// The transaction's gas limit.
    pub gas_wanted: u64,
    /// Result data (code id, contract address, contract output).
    pub data: Vec<u8>,
    /// Gas charged.
    pub gas_used: u64,
    /// Events.
    pub events: Vec<Event>,
}

impl TxOutcome {
    fn rejected(r: Rejection) -> Self {
        TxOutcome {
            code: r.code.code(),
            log: r.log,
            ..TxOutcome::default()
        }
    }
}

/// The result of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// One outcome per transaction, in block order.
    pub tx_results: Vec<TxOutcome>,
    /// Block-level events (`mint`).
    pub events: Vec<Event>,
    /// The app hash after this block.
    pub app_hash: [u8; 32],
}

#[derive(Default)]
struct Consensus {
    /// Genesis state, applied as part of the first block's changes.
    genesis: Option<Changes>,
    /// The finalized, not yet committed block, its transaction count, and the sender,
    /// nonce and hash of each decoded transaction (for the mempool view).
    prepared: Option<(PreparedCommit, u64, Vec<Included>)>,
}

/// The taochain application.
pub struct App {
    storage: Arc<Storage>,
    vm: Arc<Vm>,
    verifier: Arc<dyn Verifier + Send + Sync>,
    consensus: Mutex<Consensus>,
    mempool: Mutex<MempoolState>,
    /// Threads for a block's pure per-transaction work (decoding, signatures).
    threads: usize,
    /// Transactions whose signature `CheckTx` verified (see [`crate::signatures`]).
    verified: Verified,
    /// Told what happens, for metrics.
    observer: Arc<dyn Observer>,
    /// The ledger audits of `--audit` (see [`crate::audit`]); none when off.
    audits: Option<Audits>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a thread panicked mid-update; the data is still the last
    // consistent value we wrote (all writes are whole-value), so keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl App {
    /// An app over `storage`, running contracts in `vm`.
    pub fn new(storage: Arc<Storage>, vm: Arc<Vm>) -> Self {
        let height = storage.latest_version().unwrap_or(0);
        App {
            storage,
            vm,
            verifier: Arc::new(CpuVerifier::default()),
            consensus: Mutex::default(),
            mempool: Mutex::new(MempoolState::at(height)),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            verified: Verified::default(),
            observer: Arc::new(Unobserved),
            audits: None,
        }
    }

    /// Audits the ledger after every commit and serves the audits at `/audit` (see
    /// [`crate::audit`]: O(accounts) per block, for soaks and test networks).
    pub fn with_audit(mut self) -> Self {
        self.audits = Some(Audits::default());
        self
    }

    /// Reports phases, results, contract calls and epochs to `observer` (the node's
    /// metrics). It never affects results.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        if let Some(h) = self.storage.latest_version() {
            observer.opened(h);
        }
        self.observer = observer;
        self
    }

    /// Decodes and verifies a block's signatures on `threads` threads (default: every
    /// core). Results and app hashes never depend on it.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Checks useful work with `verifier` (e.g. the wgpu backend, which the node injects)
    /// instead of the CPU reference; every backend gives the same verdicts bit for bit.
    pub fn with_verifier(mut self, verifier: Arc<dyn Verifier + Send + Sync>) -> Self {
        self.verifier = verifier;
        self
    }

    /// The storage handle.
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// Last committed height and app hash (height 0 and an empty hash before block 1).
    pub fn info(&self) -> Result<(u64, Vec<u8>), AppError> {
        match self.storage.latest_version() {
            None => Ok((0, vec![])),
            Some(h) => {
                let root = self.storage.root_hash(h)?.ok_or_else(|| {
                    AppError::Invariant(format!("no root for committed height {h}"))
                })?;
                Ok((h, root.to_vec()))
            }
        }
    }

    /// Loads the genesis `app_state`. Its state enters the tree with the first block, so the
    /// returned app hash is empty (CometBFT then uses the genesis file's, also empty).
    pub fn init_chain(&self, chain_id: &str, app_state: &[u8]) -> Result<(), AppError> {
        if self.storage.latest_version().is_some() {
            return Err(AppError::OutOfOrder(
                "InitChain on a store that already has blocks".into(),
            ));
        }
        let changes = Genesis::from_json(app_state)?.into_changes(chain_id)?;
        lock(&self.consensus).genesis = Some(changes);
        Ok(())
    }

    /// The state new transactions are checked against: committed, or genesis before block 1.
    fn with_committed<T>(&self, f: impl FnOnce(&dyn StateRead) -> T) -> T {
        let latest = self.storage.latest();
        if self.storage.latest_version().is_some() {
            return f(&latest);
        }
        let genesis = lock(&self.consensus).genesis.clone().unwrap_or_default();
        f(&StateDelta::with_changes(&latest, genesis))
    }

    fn chain_id_and_params(state: &dyn StateRead) -> Result<(String, Params), AppError> {
        let chain_id = get_or_default(state, &CHAIN_ID_KEY)?.0;
        let chain_id = String::from_utf8(chain_id).map_err(|e| AppError::Corrupt {
            key: "chain_id".into(),
            detail: e.to_string(),
        })?;
        let params = get_or_default(state, &PARAMS_KEY)?;
        Ok((chain_id, params))
    }

    /// Transactions this node admitted that no committed block has included yet (its
    /// `CheckTx` view; see [`MempoolState::len`]).
    pub fn mempool_pending(&self) -> usize {
        lock(&self.mempool).len()
    }

    /// Mempool admission (`CheckTx`). `recheck` (after a commit, for transactions already
    /// admitted) re-runs every check but the signature, which cannot have changed.
    pub fn check_tx(&self, bytes: &[u8], recheck: bool) -> Result<TxOutcome, AppError> {
        let started = self.observer.start();
        let out = self.check_tx_unobserved(bytes, recheck)?;
        // Rechecks (after every commit, of what is still in the mempool) are not counted.
        if !recheck {
            self.observer.phase(Phase::CheckTx, started);
            self.observer.tx_result(Stage::CheckTx, out.code);
        }
        Ok(out)
    }

    fn check_tx_unobserved(&self, bytes: &[u8], recheck: bool) -> Result<TxOutcome, AppError> {
        self.with_committed(|state| {
            let (chain_id, params) = Self::chain_id_and_params(state)?;
            let checked = lock(&self.mempool).check(state, bytes, &chain_id, &params, recheck)?;
            Ok(match checked {
                Ok((wanted, gas)) => {
                    if !recheck {
                        // Admitted with a verified signature.
                        self.verified.remember(Verified::key(bytes));
                    }
                    TxOutcome {
                        gas_wanted: wanted,
                        gas_used: gas,
                        ..TxOutcome::default()
                    }
                }
                Err(r) => TxOutcome::rejected(r),
            })
        })
    }

    /// Picks transactions for a proposal (see [`proposal::prepare`]).
    pub fn prepare_proposal<T: AsRef<[u8]>>(
        &self,
        txs: Vec<T>,
        max_bytes: u64,
    ) -> Result<Vec<T>, AppError> {
        let params = self.with_committed(Self::chain_id_and_params)?.1;
        Ok(proposal::prepare(txs, max_bytes, &params))
    }

    /// Accepts a proposal only if every transaction decodes and their gas limits together
    /// stay within the block gas budget (see [`proposal::acceptable`]).
    pub fn process_proposal<T: AsRef<[u8]>>(&self, txs: &[T]) -> Result<bool, AppError> {
        let params = self.with_committed(Self::chain_id_and_params)?.1;
        Ok(proposal::acceptable(txs, &params))
    }

    /// Executes a block and returns its results and the new app hash (not yet durable).
    pub fn finalize_block<T: AsRef<[u8]> + Sync>(
        &self,
        height: u64,
        time_ms: u64,
        hash: [u8; 32],
        txs: &[T],
    ) -> Result<BlockOutcome, AppError> {
        let mut consensus = lock(&self.consensus);
        let latest = self.storage.latest_version();
        let initial = match latest {
            Some(h) if h.checked_add(1) == Some(height) => Changes::new(),
            Some(h) => {
                return Err(AppError::OutOfOrder(format!(
                    "FinalizeBlock {height} after commit {h}"
                )));
            }
            None => consensus
                .genesis
                .clone()
                .ok_or_else(|| AppError::OutOfOrder("FinalizeBlock before InitChain".into()))?,
        };
        let committed = self.storage.latest();
        let mut block = StateDelta::with_changes(&committed, initial);
        let (chain_id, params) = Self::chain_id_and_params(&block)?;
        let env = crate::contracts::Env {
            vm: &self.vm,
            storage: &self.storage,
            height,
            time_ms,
            chain_id: &chain_id,
            block_hash: hash,
            verifier: &*self.verifier,
            observer: &*self.observer,
        };
        let ctx = Context {
            chain_id: &chain_id,
            params: &params,
            contracts: &env,
        };
        let mut blobs = Blobs::new();
        // Delivery overlaps the checking of later chunks: `Signatures` spans until every
        // chunk's verdicts are in, `Transactions` the whole loop.
        let started = self.observer.start();
        let mut tx_results = Vec::with_capacity(txs.len());
        let mut raw = txs.iter().map(AsRef::as_ref);
        let mut included = Vec::with_capacity(txs.len());
        check_block_streaming(
            txs,
            &params,
            &self.verified,
            self.threads,
            || self.observer.phase(Phase::Signatures, started),
            |(tx, sig_ok)| {
                let bytes = raw.next().unwrap_or_default();
                let len = bytes.len();
                if let Ok(tx) = &tx {
                    included.push((tx.sender(), tx.body.nonce, Verified::key(bytes)));
                }
                let outcome = match (tx, sig_ok) {
                    (Err(r), _) | (Ok(_), Err(r)) => TxOutcome::rejected(r),
                    (Ok(tx), Ok(())) => {
                        let d = deliver(&mut block, &tx, len, &ctx, &mut blobs)?;
                        let (code, log) = match d.result {
                            Ok(()) => (0, String::new()),
                            Err(r) => (r.code.code(), r.log),
                        };
                        TxOutcome {
                            code,
                            log,
                            gas_wanted: tx.body.gas_limit,
                            gas_used: d.gas_used,
                            events: d.events,
                            data: d.data,
                        }
                    }
                };
                self.observer.tx_result(Stage::FinalizeBlock, outcome.code);
                tx_results.push(outcome);
                Ok::<(), AppError>(())
            },
        )?;
        self.observer.phase(Phase::Transactions, started);
        let started = self.observer.start();
        let (mint, reward) = mint_block_reward(&mut block)?;
        let mut events = vec![mint];
        events.extend(crate::economy::epoch::end_block(&mut block, &env, reward)?);
        crate::contracts::prune_blobs(&mut block, &mut blobs)?;
        self.observer.phase(Phase::EndBlock, started);
        let new_blob_bytes = blobs.values().flatten().map(|b| b.len() as u64).sum();
        self.observer.blob_bytes(new_blob_bytes);
        let started = self.observer.start();
        let prepared = self.storage.prepare(height, block.into_changes(), blobs)?;
        let app_hash = prepared.root();
        self.observer.phase(Phase::Tree, started);
        consensus.prepared = Some((prepared, txs.len() as u64, included));
        Ok(BlockOutcome {
            tx_results,
            events,
            app_hash,
        })
    }

    /// Makes the finalized block durable. Returns the committed height.
    pub fn commit(&self) -> Result<u64, AppError> {
        let started = self.observer.start();
        let (height, txs, included) = {
            let mut consensus = lock(&self.consensus);
            let (prepared, txs, included) = consensus
                .prepared
                .take()
                .ok_or_else(|| AppError::OutOfOrder("Commit without FinalizeBlock".into()))?;
            let height = prepared.version();
            self.storage.commit(prepared)?;
            // What the block stored is committed now: its modules may leave the VM's memory.
            self.vm.settle();
            consensus.genesis = None;
            (height, txs, included)
        };
        let pending = {
            let mut mempool = lock(&self.mempool);
            mempool.committed(height, &included);
            mempool.len()
        };
        self.observer
            .mempool_pending(u64::try_from(pending).unwrap_or(u64::MAX));
        self.observer.phase(Phase::Commit, started);
        self.observer.committed(height, txs);
        if let Some(audits) = &self.audits {
            // A failed audit is a missing one (`/audit` says so and a soak reports it); the
            // block is durable already, so it never halts the node.
            let _ = audits.record(&self.storage, height);
        }
        Ok(height)
    }

    /// Serves a read query (see [`crate::query`]); `data` is the message of a smart query.
    pub fn query(&self, path: &str, data: &[u8], height: u64, prove: bool) -> QueryOutcome {
        if path == AUDIT_PATH {
            return match &self.audits {
                _ if prove => crate::audit::not_provable(),
                Some(audits) => audits.query(height),
                None => crate::audit::not_auditing(),
            };
        }
        crate::query::query(&self.storage, &self.vm, path, data, height, prove)
    }
}

//! In-process mock consensus for fast end-to-end tests of the ABCI application, and
//! fixtures (dev keys, genesis, signed transfers).
//!
//! [`MockChain`] drives [`taochain_abci::AbciApp`] through the same `Application` calls
//! CometBFT makes (InitChain, CheckTx, PrepareProposal, ProcessProposal, FinalizeBlock,
//! Commit, Query), over RocksDB on disk ([`MockChain::open`], for restarts) or the
//! in-memory store ([`MockChain::in_memory`]), with no sockets and no second process.

// Test support: a host failure must fail the test loudly.
#![allow(clippy::panic)]

pub mod fixtures;

use sha2::Digest;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use taochain_abci::AbciApp;
use taochain_app::{App, AppError};
use taochain_storage::{Storage, StorageOptions};
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;

/// Panics on host failures: in tests a host failure is a bug to surface loudly.
fn panic_on_error(err: &AppError) -> ! {
    panic!("host failure: {err}")
}

/// One validator's app, driven block by block.
pub struct MockChain {
    abci: AbciApp,
    height: u64,
    /// App hash after every committed block, by height - 1.
    pub app_hashes: Vec<Vec<u8>>,
}

/// A finalized and committed block's results.
pub struct CommittedBlock {
    /// Height.
    pub height: u64,
    /// Per-transaction results.
    pub results: Vec<pb::ExecTxResult>,
    /// Block events.
    pub events: Vec<pb::Event>,
    /// App hash after the block.
    pub app_hash: Vec<u8>,
}

impl MockChain {
    /// Opens (or reopens) the app's RocksDB at `dir`.
    pub fn open(dir: &Path) -> Self {
        let storage = Storage::open(dir, StorageOptions::default()).expect("storage opens");
        MockChain::over(storage)
    }

    /// A fresh app over the in-memory store (same app hashes as RocksDB; no disk).
    pub fn in_memory() -> Self {
        MockChain::over(Storage::in_memory(StorageOptions::default()))
    }

    /// A fresh in-memory app that decodes and verifies blocks on `threads` threads.
    pub fn in_memory_with_threads(threads: usize) -> Self {
        MockChain::over_app(
            |s, vm| App::new(s, vm).with_threads(threads),
            Storage::in_memory(StorageOptions::default()),
        )
    }

    /// A fresh in-memory app that audits its ledger after every commit (`/audit`).
    pub fn in_memory_with_audit() -> Self {
        MockChain::over_app(
            |s, vm| App::new(s, vm).with_audit(),
            Storage::in_memory(StorageOptions::default()),
        )
    }

    /// A fresh in-memory app that takes and restores state-sync snapshots per `config`.
    pub fn in_memory_with_snapshots(config: taochain_abci::snapshots::SnapshotConfig) -> Self {
        let mut chain = MockChain::over(Storage::in_memory(StorageOptions::default()));
        chain.abci = chain
            .abci
            .clone()
            .with_snapshots(taochain_abci::snapshots::Snapshots::new(config));
        chain
    }

    /// Re-reads the committed height from the app (after a state-sync restore).
    pub fn resync(&mut self) {
        let info = self.abci.info(pb::RequestInfo::default());
        self.height = u64::try_from(info.last_block_height).expect("height is non-negative");
    }

    fn over(storage: Storage) -> Self {
        MockChain::over_app(App::new, storage)
    }

    fn over_app(
        make: impl FnOnce(Arc<Storage>, Arc<taochain_vm::Vm>) -> App,
        storage: Storage,
    ) -> Self {
        let vm = Arc::new(taochain_vm::Vm::new(None).expect("vm engine builds"));
        let abci = AbciApp::new(Arc::new(make(Arc::new(storage), vm)), panic_on_error);
        let info = abci.info(pb::RequestInfo::default());
        let height = u64::try_from(info.last_block_height).expect("height is non-negative");
        MockChain {
            abci,
            height,
            app_hashes: vec![],
        }
    }

    /// Runs InitChain with `app_state` JSON.
    pub fn init(&mut self, chain_id: &str, app_state: &serde_json::Value) {
        self.abci.init_chain(pb::RequestInitChain {
            chain_id: chain_id.into(),
            app_state_bytes: serde_json::to_vec(app_state).expect("json").into(),
            initial_height: 1,
            ..Default::default()
        });
    }

    /// The underlying ABCI application.
    pub fn abci(&self) -> &AbciApp {
        &self.abci
    }

    /// The last committed height.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// CheckTx on raw bytes.
    pub fn check_tx(&self, tx: &[u8]) -> pb::ResponseCheckTx {
        self.abci.check_tx(pb::RequestCheckTx {
            tx: Bytes::copy_from_slice(tx),
            r#type: 0,
        })
    }

    /// CheckTx of type Recheck (what CometBFT sends for mempool leftovers after a commit).
    pub fn recheck_tx(&self, tx: &[u8]) -> pb::ResponseCheckTx {
        self.abci.check_tx(pb::RequestCheckTx {
            tx: Bytes::copy_from_slice(tx),
            r#type: pb::CheckTxType::Recheck as i32,
        })
    }

    /// Transactions the app's mempool view holds as pending.
    pub fn mempool_pending(&self) -> usize {
        self.abci.app().mempool_pending()
    }

    /// Proposes, accepts, finalizes and commits a block of `txs`, as every honest
    /// validator would.
    pub fn block(&mut self, txs: Vec<Vec<u8>>) -> CommittedBlock {
        let height = self.height + 1;
        let txs: Vec<Bytes> = txs.into_iter().map(Bytes::from).collect();
        let proposal = self.abci.prepare_proposal(pb::RequestPrepareProposal {
            max_tx_bytes: 4 * 1024 * 1024,
            txs: txs.clone(),
            height: height as i64,
            ..Default::default()
        });
        let status = self
            .abci
            .process_proposal(pb::RequestProcessProposal {
                txs: proposal.txs.clone(),
                height: height as i64,
                ..Default::default()
            })
            .status;
        assert_eq!(
            status,
            pb::response_process_proposal::ProposalStatus::Accept as i32
        );
        self.finalize_and_commit(proposal.txs)
    }

    /// Finalizes and commits exactly `txs` (what a byzantine proposer could force in).
    pub fn finalize_and_commit(&mut self, txs: Vec<Bytes>) -> CommittedBlock {
        let height = self.height + 1;
        // A stand-in block hash (a real one hashes the header): distinct per height.
        let hash: [u8; 32] = sha2::Sha256::digest(height.to_be_bytes()).into();
        let res = self.abci.finalize_block(pb::RequestFinalizeBlock {
            txs,
            height: height as i64,
            hash: hash.to_vec().into(),
            ..Default::default()
        });
        self.abci.commit();
        self.height = height;
        self.app_hashes.push(res.app_hash.to_vec());
        CommittedBlock {
            height,
            results: res.tx_results,
            events: res.events,
            app_hash: res.app_hash.to_vec(),
        }
    }

    /// A query at the latest height.
    pub fn query(&self, path: &str, prove: bool) -> pb::ResponseQuery {
        self.abci.query(pb::RequestQuery {
            path: path.into(),
            prove,
            ..Default::default()
        })
    }

    /// A contract's `query` output for `msg` (panics on a failed query: test helper).
    pub fn abci_query_smart(&self, contract: &taochain_primitives::Address, msg: &[u8]) -> Vec<u8> {
        let r = self.abci.query(pb::RequestQuery {
            path: format!("/contract/{contract}/smart"),
            data: msg.to_vec().into(),
            ..Default::default()
        });
        assert_eq!(r.code, 0, "smart query failed: {}", r.log);
        r.value.to_vec()
    }
}

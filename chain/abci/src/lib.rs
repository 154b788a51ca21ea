//! The tendermint-abci adapter: the only chain crate that knows CometBFT types.
//!
//! [`AbciApp`] implements `tendermint_abci::Application` (CometBFT v0.38 protocol) by
//! converting each request into plain types for [`taochain_app::App`] and each result back.
//! A transaction's failure is a non-zero code in its result; an [`taochain_app::AppError`]
//! (disk, corruption, requests out of order) halts the node: continuing could fork it.
//! [`snapshots`] serves and restores state-sync snapshots.

pub mod snapshots;

use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use taochain_app::{App, AppError, Event, TxOutcome};

use crate::snapshots::Snapshots;
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci::{self as pb, response_process_proposal::ProposalStatus};
use tendermint_proto::v0_38::crypto::{ProofOp, ProofOps};

/// The ABCI proof-op type of a Jellyfish-Merkle ICS23 commitment proof.
pub const PROOF_OP_TYPE: &str = "ics23:jmt";

/// Event attributes CometBFT's indexer indexes (searchable with `tx_search`); the rest
/// are stored with the result but not indexed, which keeps indexing cheap per transaction.
pub const INDEXED_ATTRIBUTES: &[&str] = &["sender", "recipient", "payer"];

/// What to do on a host failure. The node exits; tests may panic instead.
pub type HaltFn = fn(&AppError) -> !;

/// The node's halt: log and exit with status 70 (EX_SOFTWARE).
pub fn exit_on_error(err: &AppError) -> ! {
    tracing::error!(error = %err, "host failure; halting the node so it cannot fork");
    eprintln!("taod: halting: {err}");
    std::process::exit(70)
}

/// `tendermint_abci::Application` over the taochain app. Cheap to clone (one per connection).
#[derive(Clone)]
pub struct AbciApp {
    app: Arc<App>,
    halt: HaltFn,
    snapshots: Option<Arc<Snapshots>>,
    crash: Option<CrashPoint>,
}

/// Where a crash-recovery test makes the node die (`taod start` reads `TAOD_CRASH_AT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPhase {
    /// In FinalizeBlock, after executing the block, before answering.
    Finalize,
    /// In Commit, before anything is written.
    BeforeCommit,
    /// In Commit, after the write, before answering.
    AfterCommit,
}

/// A phase at a height: the process aborts there, as if the machine lost power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashPoint {
    /// The phase.
    pub phase: CrashPhase,
    /// The block height.
    pub height: u64,
}

impl std::str::FromStr for CrashPoint {
    type Err = String;

    /// `finalize:H`, `before_commit:H` or `after_commit:H`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (phase, height) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected PHASE:HEIGHT"))?;
        let phase = match phase {
            "finalize" => CrashPhase::Finalize,
            "before_commit" => CrashPhase::BeforeCommit,
            "after_commit" => CrashPhase::AfterCommit,
            other => return Err(format!("unknown crash phase `{other}`")),
        };
        let height = height
            .parse()
            .map_err(|e| format!("crash height `{height}`: {e}"))?;
        Ok(CrashPoint { phase, height })
    }
}

impl AbciApp {
    /// Wraps `app`; `halt` is called on host failures.
    pub fn new(app: Arc<App>, halt: HaltFn) -> Self {
        AbciApp {
            app,
            halt,
            snapshots: None,
            crash: None,
        }
    }

    /// Aborts the process at `point` (crash-recovery tests only).
    pub fn with_crash_point(mut self, point: CrashPoint) -> Self {
        self.crash = Some(point);
        self
    }

    fn maybe_crash(&self, phase: CrashPhase, height: u64) {
        if self.crash == Some(CrashPoint { phase, height }) {
            tracing::error!(?phase, height, "crash point reached: aborting");
            eprintln!("taod: crash point {phase:?} at {height}: aborting");
            std::process::abort();
        }
    }

    /// Takes, serves and restores state-sync snapshots (without: none are offered and
    /// offers are refused).
    pub fn with_snapshots(mut self, snapshots: Snapshots) -> Self {
        self.snapshots = Some(Arc::new(snapshots));
        self
    }

    /// The wrapped app.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    fn ok<T>(&self, r: Result<T, AppError>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => (self.halt)(&e),
        }
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn event(e: Event) -> pb::Event {
    pb::Event {
        r#type: e.kind,
        attributes: e
            .attributes
            .into_iter()
            .map(|(key, value)| pb::EventAttribute {
                index: INDEXED_ATTRIBUTES.contains(&key.as_str()),
                key,
                value,
            })
            .collect(),
    }
}

fn exec_result(o: TxOutcome) -> pb::ExecTxResult {
    pb::ExecTxResult {
        code: o.code,
        data: o.data.into(),
        log: o.log,
        gas_wanted: to_i64(o.gas_wanted),
        gas_used: to_i64(o.gas_used),
        events: o.events.into_iter().map(event).collect(),
        codespace: if o.code == 0 {
            String::new()
        } else {
            "taochain".into()
        },
        ..Default::default()
    }
}

impl Application for AbciApp {
    fn info(&self, _request: pb::RequestInfo) -> pb::ResponseInfo {
        let (height, app_hash) = self.ok(self.app.info());
        pb::ResponseInfo {
            data: "taochain".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            app_version: 1,
            last_block_height: to_i64(height),
            last_block_app_hash: app_hash.into(),
        }
    }

    fn init_chain(&self, request: pb::RequestInitChain) -> pb::ResponseInitChain {
        self.ok(self
            .app
            .init_chain(&request.chain_id, &request.app_state_bytes));
        pb::ResponseInitChain::default()
    }

    fn query(&self, request: pb::RequestQuery) -> pb::ResponseQuery {
        let out = match u64::try_from(request.height) {
            Ok(height) => self
                .app
                .query(&request.path, &request.data, height, request.prove),
            Err(_) => taochain_app::QueryOutcome {
                code: taochain_primitives::query::codes::BAD_ARGUMENT,
                log: format!("height {} is negative", request.height),
                ..Default::default()
            },
        };
        let proof_ops = out.proof.map(|p| ProofOps {
            ops: vec![ProofOp {
                r#type: PROOF_OP_TYPE.into(),
                key: out.key.clone(),
                data: p.encode_to_vec(),
            }],
        });
        pb::ResponseQuery {
            code: out.code,
            log: out.log,
            key: out.key.into(),
            value: out.value.into(),
            proof_ops,
            height: to_i64(out.height),
            codespace: if out.code == 0 {
                String::new()
            } else {
                "taochain".into()
            },
            ..Default::default()
        }
    }

    fn check_tx(&self, request: pb::RequestCheckTx) -> pb::ResponseCheckTx {
        let recheck = request.r#type == pb::CheckTxType::Recheck as i32;
        let o = self.ok(self.app.check_tx(&request.tx, recheck));
        pb::ResponseCheckTx {
            code: o.code,
            log: o.log,
            gas_wanted: to_i64(o.gas_wanted),
            gas_used: to_i64(o.gas_used),
            codespace: if o.code == 0 {
                String::new()
            } else {
                "taochain".into()
            },
            ..Default::default()
        }
    }

    fn commit(&self) -> pb::ResponseCommit {
        let next = self.app.storage().latest_version().map_or(1, |h| h + 1);
        self.maybe_crash(CrashPhase::BeforeCommit, next);
        let height = self.ok(self.app.commit());
        self.maybe_crash(CrashPhase::AfterCommit, height);
        if let Some(s) = &self.snapshots {
            s.after_commit(&self.app, height);
        }
        pb::ResponseCommit { retain_height: 0 }
    }

    fn list_snapshots(&self) -> pb::ResponseListSnapshots {
        pb::ResponseListSnapshots {
            snapshots: self
                .snapshots
                .as_ref()
                .map(|s| s.list())
                .unwrap_or_default(),
        }
    }

    fn offer_snapshot(&self, request: pb::RequestOfferSnapshot) -> pb::ResponseOfferSnapshot {
        match &self.snapshots {
            Some(s) => s.offer(&self.app, request.snapshot, &request.app_hash),
            None => pb::ResponseOfferSnapshot {
                result: pb::response_offer_snapshot::Result::Reject as i32,
            },
        }
    }

    fn load_snapshot_chunk(
        &self,
        request: pb::RequestLoadSnapshotChunk,
    ) -> pb::ResponseLoadSnapshotChunk {
        let chunk = self.snapshots.as_ref().map_or_else(Vec::new, |s| {
            s.load_chunk(request.height, request.format, request.chunk)
        });
        pb::ResponseLoadSnapshotChunk {
            chunk: chunk.into(),
        }
    }

    fn apply_snapshot_chunk(
        &self,
        request: pb::RequestApplySnapshotChunk,
    ) -> pb::ResponseApplySnapshotChunk {
        match &self.snapshots {
            Some(s) => s.apply_chunk(&self.app, request.index, &request.chunk, &request.sender),
            None => pb::ResponseApplySnapshotChunk {
                result: pb::response_apply_snapshot_chunk::Result::Abort as i32,
                ..Default::default()
            },
        }
    }

    fn prepare_proposal(&self, request: pb::RequestPrepareProposal) -> pb::ResponsePrepareProposal {
        let max = u64::try_from(request.max_tx_bytes).unwrap_or(0);
        let txs: Vec<Bytes> = self.ok(self.app.prepare_proposal(request.txs, max));
        pb::ResponsePrepareProposal { txs }
    }

    fn process_proposal(&self, request: pb::RequestProcessProposal) -> pb::ResponseProcessProposal {
        let accept = self.ok(self.app.process_proposal(&request.txs));
        let status = if accept {
            ProposalStatus::Accept
        } else {
            ProposalStatus::Reject
        };
        pb::ResponseProcessProposal {
            status: status as i32,
        }
    }

    fn finalize_block(&self, request: pb::RequestFinalizeBlock) -> pb::ResponseFinalizeBlock {
        let height = u64::try_from(request.height).unwrap_or(0);
        // Block time from the header (never the machine's clock), in ms since the epoch.
        let time_ms = request.time.map_or(0, |t| {
            u64::try_from(t.seconds)
                .unwrap_or(0)
                .saturating_mul(1000)
                .saturating_add(u64::try_from(t.nanos).unwrap_or(0) / 1_000_000)
        });
        // The block's hash seeds useful-work checks (unknown before the block exists).
        let mut hash = [0u8; 32];
        if request.hash.len() == 32 {
            hash.copy_from_slice(&request.hash);
        }
        let out = self.ok(self.app.finalize_block(height, time_ms, hash, &request.txs));
        self.maybe_crash(CrashPhase::Finalize, height);
        pb::ResponseFinalizeBlock {
            events: out.events.into_iter().map(event).collect(),
            tx_results: out.tx_results.into_iter().map(exec_result).collect(),
            app_hash: out.app_hash.to_vec().into(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_attributes_are_indexed() {
        let e = event(Event::new(
            "transfer",
            &[
                ("sender", "a".into()),
                ("recipient", "b".into()),
                ("amount", "5".into()),
            ],
        ));
        let indexed: Vec<(&str, bool)> = e
            .attributes
            .iter()
            .map(|a| (a.key.as_str(), a.index))
            .collect();
        assert_eq!(
            indexed,
            [("sender", true), ("recipient", true), ("amount", false)]
        );
        let fee = event(Event::new(
            "fee",
            &[("payer", "a".into()), ("amount", "1".into())],
        ));
        assert!(fee.attributes[0].index && !fee.attributes[1].index);
    }
}

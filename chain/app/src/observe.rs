//! What the app tells an [`Observer`] while it works, so the node can export metrics
//! without the app reading a clock.
//!
//! The app asks the observer for an opaque [`Started`] mark before a piece of work and
//! hands it back with what was done; only the observer knows what the mark means (the node
//! keeps nanoseconds since it started). Nothing an observer returns reaches state, results
//! or the app hash, so an observer cannot affect consensus.

/// A phase of a block's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// `CheckTx` of one new transaction (mempool admission; rechecks are not counted).
    CheckTx,
    /// Decoding and signature checks of a block's transactions.
    Signatures,
    /// Executing the block's transactions.
    Transactions,
    /// Minting, epochs, governance at the end of the block.
    EndBlock,
    /// Computing the new tree version and app hash.
    Tree,
    /// Making the block durable (`Commit`).
    Commit,
}

impl Phase {
    /// Every phase, in block order.
    pub const ALL: [Phase; 6] = [
        Phase::CheckTx,
        Phase::Signatures,
        Phase::Transactions,
        Phase::EndBlock,
        Phase::Tree,
        Phase::Commit,
    ];

    /// The phase's label.
    pub fn name(self) -> &'static str {
        match self {
            Phase::CheckTx => "check_tx",
            Phase::Signatures => "signatures",
            Phase::Transactions => "transactions",
            Phase::EndBlock => "end_block",
            Phase::Tree => "tree",
            Phase::Commit => "commit",
        }
    }
}

/// Where a transaction result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Mempool admission.
    CheckTx,
    /// Block execution.
    FinalizeBlock,
}

/// An opaque mark from [`Observer::start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Started(pub u64);

/// Receives what the app did. Every method has a no-op default.
pub trait Observer: Send + Sync {
    /// A mark for work about to begin.
    fn start(&self) -> Started {
        Started(0)
    }
    /// A phase that began at `started` ended.
    fn phase(&self, _phase: Phase, _started: Started) {}
    /// A transaction's result code at `stage` (0: success).
    fn tx_result(&self, _stage: Stage, _code: u32) {}
    /// A contract call that began at `started` ended, having used `gas`.
    fn contract_call(&self, _started: Started, _gas: u64) {}
    /// A subnet's epoch that began at `started` ended.
    fn epoch(&self, _netuid: u16, _started: Started) {}
    /// A block stored `bytes` of new blobs.
    fn blob_bytes(&self, _bytes: u64) {}
    /// The store was opened at `height` (the last committed block).
    fn opened(&self, _height: u64) {}
    /// Block `height` was committed with `txs` transactions.
    fn committed(&self, _height: u64, _txs: u64) {}
    /// After a commit, `pending` transactions this node admitted await inclusion.
    fn mempool_pending(&self, _pending: u64) {}
}

/// The observer that ignores everything (tests, queries, simulations).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unobserved;

impl Observer for Unobserved {}

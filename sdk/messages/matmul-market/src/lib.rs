//! The `matmul-market` contract's messages and records, defined once for the contract
//! (`contracts/matmul-market`), the CLI (`tao job`, `tao miner run`) and the tests.

use borsh::{BorshDeserialize, BorshSerialize};

/// Instantiate message (nothing to configure).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct InstantiateMsg {}

/// Execute messages.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ExecuteMsg {
    /// Post a job; the funds sent are the bounty. Blob hashes of A (m x k) and B (k x n).
    PostJob {
        /// Blob hash of A.
        a: [u8; 32],
        /// Blob hash of B.
        b: [u8; 32],
        /// Last block a result is accepted.
        deadline: u64,
    },
    /// Submit the blob hash of C for an open job.
    SubmitResult {
        /// The job.
        job: u64,
        /// Blob hash of C, uploaded by the submitting hotkey.
        c: [u8; 32],
    },
    /// The requester takes back the bounty of a job still open after its deadline.
    Reclaim {
        /// The job.
        job: u64,
    },
    /// The requester has fetched C: the job ends and its result blob is released.
    Collect {
        /// The job.
        job: u64,
    },
}

/// Query messages.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum QueryMsg {
    /// One job, borsh `Job`.
    Job {
        /// Job id.
        id: u64,
    },
    /// Up to 100 jobs from `start`, borsh `Vec<(u64, Job)>`.
    Jobs {
        /// First job id.
        start: u64,
    },
    /// A miner's record, borsh `MinerStats`.
    Miner {
        /// The miner's hotkey.
        hotkey: [u8; 20],
    },
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Status {
    /// Waiting for a valid result.
    Open,
    /// Paid to `miner` for result `c` at `height`.
    Done {
        /// The paid miner.
        miner: [u8; 20],
        /// Blob hash of the result.
        c: [u8; 32],
        /// Block of the payment.
        height: u64,
    },
    /// The bounty went back to the requester.
    Reclaimed,
    /// The requester collected the result; every blob of the job was released.
    Collected,
}

/// A job.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Job {
    /// Who pays.
    pub requester: [u8; 20],
    /// Blob hash of A.
    pub a: [u8; 32],
    /// Blob hash of B.
    pub b: [u8; 32],
    /// rao escrowed.
    pub bounty: u64,
    /// Last block a result is accepted.
    pub deadline: u64,
    /// Status.
    pub status: Status,
}

/// A miner's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MinerStats {
    /// Valid results.
    pub valid: u64,
    /// Invalid results.
    pub invalid: u64,
    /// Epoch score: one per valid result (at most [`MAX_SCORE`]), halved every epoch.
    pub score: u64,
}

/// The highest score a miner can hold.
pub const MAX_SCORE: u64 = 1_000;

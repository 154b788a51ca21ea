//! Storage errors. These are host failures (disk, corruption, misuse by the caller), never
//! a transaction's fault: the node halts on them rather than guess.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Db(String),
    /// The Merkle tree reported an error (e.g. a missing node).
    #[error("merkle tree: {0}")]
    Tree(String),
    /// A commit for a version that does not follow the last committed one.
    #[error("version gap: last committed {last:?}, asked to write {got}")]
    VersionGap {
        /// Last committed version.
        last: Option<u64>,
        /// Version asked for.
        got: u64,
    },
    /// A version outside the kept window (pruned) or in the future.
    #[error("version {0} is not available (pruned or not yet committed)")]
    VersionUnavailable(u64),
    /// The data directory's file system is (nearly) full: the node stops before RocksDB
    /// meets the full disk mid-write.
    #[error(
        "No space left on device: {free} bytes free on {path}, under the {keep} bytes this node keeps free for RocksDB"
    )]
    NoSpace {
        /// The data directory.
        path: String,
        /// Bytes available to the node.
        free: u64,
        /// Bytes the node keeps free (`MIN_FREE_BYTES` by default).
        keep: u64,
    },
    /// An earlier commit's write failed (the reason follows): the state on disk is behind
    /// the state in memory, and the store takes no more commits.
    #[error("{0} (an earlier commit was not written; the store takes no more)")]
    WriteFailed(String),
    /// A range read met more deletions of pending writes than it was allowed to step over
    /// ([`crate::StateRead::next_limited`]): the caller ran out of what it paid for.
    #[error("a range read stepped over more than {0} deleted entries")]
    SkipLimit(u64),
    /// Bytes on disk that do not decode.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
}

//! Client errors.

/// Anything that can go wrong talking to a node or handling keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node could not be reached or answered with an HTTP error.
    #[error("cannot reach {url}: {detail}")]
    Http {
        /// The RPC URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("rpc error from {method}: {detail}")]
    Rpc {
        /// The method called.
        method: String,
        /// The error text.
        detail: String,
    },
    /// A response that does not have the expected shape.
    #[error("unexpected response: {0}")]
    Decode(String),
    /// The chain refused or failed the transaction.
    #[error("transaction {stage} failed with code {code} ({name}): {log}")]
    TxFailed {
        /// `simulate` (nothing was sent), `check` (mempool) or `deliver` (block).
        stage: &'static str,
        /// The code.
        code: u32,
        /// The code's name.
        name: String,
        /// The node's log line.
        log: String,
    },
    /// A query returned a non-zero code.
    #[error("query {path} failed with code {code}: {log}")]
    Query {
        /// The path.
        path: String,
        /// The code.
        code: u32,
        /// The log.
        log: String,
    },
    /// A proof that does not verify (or is for another key than the one asked for).
    #[error("proof verification failed: {0}")]
    Proof(String),
    /// A header the light client refuses (bad signatures, not enough trusted power,
    /// validators that do not match the header, an expired anchor).
    #[error("light client refused the header: {0}")]
    LightClient(String),
    /// A keystore problem.
    #[error("keystore: {0}")]
    Keystore(String),
    /// Bad input from the caller.
    #[error("{0}")]
    Input(String),
    /// Waiting ran out.
    #[error("timed out: {0}")]
    Timeout(String),
}

//! The neuron runtime: the off-chain half of a subnet arena, on tokio.
//!
//! - [`wire`]: the axon protocol: a validator's signed challenge, a miner's signed answer.
//! - [`axon`]: the miner's HTTP server (axum) around its [`model::Model`], admitting only
//!   signed, fresh requests from validator-permit holders of its subnet.
//! - [`dendrite`]: the validator's concurrent, bounded client of many axons.
//! - [`validator`]: rounds of challenge, query and score; moving averages; weights.
//! - [`chain`]: what neurons read from and send to the chain.
//! - [`bench`]: the runtime's benchmarks (`tao bench arena`).
//! - [`gateway`]: `tao gateway serve`: paid answers from a subnet's best miners, and the
//!   router of the mixture of experts.
//! - [`miner`]: `tao miner serve`: announce the axon on chain, then serve.
//!
//! Tasks themselves (challenges, metrics, reference models) live in `taochain-tasks`.

pub mod axon;
pub mod bench;
pub mod chain;
pub mod dendrite;
pub mod gateway;
pub mod miner;
pub mod model;
pub mod validator;
pub mod wire;

/// What can go wrong running a neuron.
#[derive(Debug, thiserror::Error)]
pub enum NeuronError {
    /// Talking to the node.
    #[error(transparent)]
    Client(#[from] taochain_client::ClientError),
    /// The chain's state does not allow it (no such subnet, no task, not registered).
    #[error("{0}")]
    Chain(String),
    /// HTTP setup.
    #[error("http: {0}")]
    Http(String),
    /// A task's generator or reference model.
    #[error("task: {0}")]
    Task(String),
    /// Binding or serving.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

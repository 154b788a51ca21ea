//! In-process ABCI tests: the app driven by a mock consensus over RocksDB on disk (restarts,
//! the backend comparison) or the in-memory store.

mod arena;
mod attacks;
mod axons;
mod bad_input;
mod blocks;
mod channels;
mod contracts;
mod economy;
mod mempool_view;
mod state_sync;
mod useful_work;

use taochain_testkit::MockChain;
use taochain_testkit::fixtures::{CHAIN_ID, genesis};

/// Funded balance of each fixture account.
pub const BALANCE: u64 = 1_000_000_000_000;

/// A chain with 4 funded fixture accounts and block 1 committed, on RocksDB in `dir`.
pub fn started_chain(dir: &std::path::Path) -> MockChain {
    start(MockChain::open(dir))
}

/// The same, over the in-memory store.
pub fn started_chain_in_memory() -> MockChain {
    start(MockChain::in_memory())
}

/// The same, in memory, verifying blocks on `threads` threads.
pub fn started_chain_with_threads(threads: usize) -> MockChain {
    start(MockChain::in_memory_with_threads(threads))
}

fn start(mut chain: MockChain) -> MockChain {
    chain.init(CHAIN_ID, &genesis(4, BALANCE));
    chain.block(vec![]);
    chain
}

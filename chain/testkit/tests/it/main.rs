//! In-process ABCI tests: the app driven by a mock consensus over RocksDB on disk.

mod attacks;
mod bad_input;
mod blocks;
mod contracts;
mod economy;
mod useful_work;

use taochain_testkit::MockChain;
use taochain_testkit::fixtures::{CHAIN_ID, genesis};

/// Funded balance of each fixture account.
pub const BALANCE: u64 = 1_000_000_000_000;

/// A chain with 4 funded fixture accounts and block 1 committed.
pub fn started_chain(dir: &std::path::Path) -> MockChain {
    let mut chain = MockChain::open(dir);
    chain.init(CHAIN_ID, &genesis(4, BALANCE));
    chain.block(vec![]);
    chain
}

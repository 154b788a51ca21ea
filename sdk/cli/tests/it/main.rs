//! End-to-end tests with real processes: `tao localnet up` starts 4 `cometbft` v0.38 and 4
//! `taod` processes on loopback with RocksDB on disk; the tests drive them through the CLI
//! binary and the client SDK. Slow (tens of seconds); part of the README's test command.

mod arena;
mod contracts;
mod demo;
mod economy;
mod explorer;
mod localnet;
mod market;
mod payments;
mod soak;
mod storm;
mod testnet;
mod work;

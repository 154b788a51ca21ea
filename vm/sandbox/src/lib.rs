//! Test and offline support for taochain contracts, kept out of the VM crate so that the
//! chain (`chain/app`, `taod`) never links it (`scripts/check-boundaries.sh`): [`Sandbox`],
//! an in-memory chain running contracts in the real VM (tests, `tao vm run`); [`MapHost`],
//! a one-contract host; [`contract_wasm`], the example contracts for tests; and [`bench`],
//! the VM micro-benchmarks printed by `tao bench vm`. Not to be confused with
//! `chain/testkit`'s `MockChain`, which drives the whole ABCI app.

pub mod bench;
mod sandbox;

pub use sandbox::*;

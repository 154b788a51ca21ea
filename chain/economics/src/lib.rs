//! taochain economics: every rule that turns stake, weights and time into rao, as pure
//! integer functions. The chain's epoch and registration code, the root network's subnet
//! shares and `tao yuma` all run this code, so what the calculator prints is what the chain
//! pays.
//!
//! - [`fixed`]: Q32 fixed point and the one overflow-safe [`fixed::mul_div_floor`].
//! - [`yuma`]: Yuma consensus (classic, as in `shared/reference/yuma.md`).
//! - [`payout`]: a pot paid 18% owner / 41% miners / 41% validators, each validator's part
//!   split into its take and its nominators' reward-per-share step.
//! - [`pricing`]: the burn price of a registration and the lock cost of a subnet.
//!
//! It owns no state, reads no clock and knows nothing of storage, transactions or
//! CometBFT: callers pass numbers in and apply the results. No floats, no hashing, no
//! parallelism: the same input gives the same output on every machine. `no_std` + `alloc`.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod fixed;
pub mod payout;
pub mod pricing;
pub mod yuma;

pub use fixed::mul_div_floor;

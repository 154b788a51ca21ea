//! Proved queries against an in-process fake CometBFT RPC: real signed headers and
//! ICS23 proofs, honest and forged.

mod chain;
mod fake;
mod prove;

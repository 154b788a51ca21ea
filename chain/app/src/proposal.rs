//! What a proposer puts in a block (`PrepareProposal`) and what a validator accepts
//! (`ProcessProposal`).
//!
//! CometBFT's mempool does not keep a sender's transactions in nonce order: a `CheckTx`
//! answer is added to its list by whichever goroutine sees it first (the request's own or
//! the socket reader), so nonce n+1 can sit before nonce n. The proposer puts them back in
//! order: each sender's transactions fill the places that sender holds in the mempool's
//! order, by ascending nonce (stable, so equal nonces keep their order). Nothing else moves.

use std::collections::BTreeMap;

use taochain_primitives::{Address, Params};

use crate::checks::decode;

/// A transaction the proposer may include: its bytes and what ordering and budgets need.
struct Candidate<T> {
    tx: T,
    sender: Address,
    nonce: u64,
    gas_limit: u64,
}

/// Picks transactions for a proposal from `txs` (the mempool's order): drops undecodable
/// ones and ones signing for more than `max_tx_gas`, puts each sender's in nonce order,
/// and stops before `max_bytes` or the block gas budget (`max_block_gas`, the sum of the
/// transactions' gas limits) would be exceeded.
pub fn prepare<T: AsRef<[u8]>>(txs: Vec<T>, max_bytes: u64, params: &Params) -> Vec<T> {
    let mut candidates: Vec<Option<Candidate<T>>> = Vec::with_capacity(txs.len());
    for tx in txs {
        let Ok(decoded) = decode(tx.as_ref(), params) else {
            continue;
        };
        if decoded.body.gas_limit > params.max_tx_gas {
            continue;
        }
        candidates.push(Some(Candidate {
            sender: decoded.sender(),
            nonce: decoded.body.nonce,
            gas_limit: decoded.body.gas_limit,
            tx,
        }));
    }
    let order = nonce_order(&candidates);
    let (mut bytes, mut gas) = (0u64, 0u64);
    let mut out = Vec::with_capacity(candidates.len());
    for i in order {
        let Some(c) = candidates.get_mut(i).and_then(Option::take) else {
            continue;
        };
        let len = c.tx.as_ref().len() as u64;
        if bytes.saturating_add(len) > max_bytes
            || gas.saturating_add(c.gas_limit) > params.max_block_gas
        {
            break;
        }
        bytes += len;
        gas += c.gas_limit;
        out.push(c.tx);
    }
    out
}

/// The order to take `candidates` in: position `p` gets the candidate whose sender holds
/// `p`, and which is that sender's k-th smallest nonce if `p` is the sender's k-th place.
fn nonce_order<T>(candidates: &[Option<Candidate<T>>]) -> Vec<usize> {
    let mut places: BTreeMap<Address, Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        if let Some(c) = c {
            places.entry(c.sender).or_default().push(i);
        }
    }
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    let nonce = |i: &usize| candidates[*i].as_ref().map_or(0, |c| c.nonce);
    for held in places.values().filter(|held| held.len() > 1) {
        let mut by_nonce = held.clone();
        by_nonce.sort_by_key(nonce);
        for (place, i) in held.iter().zip(by_nonce) {
            order[*place] = i;
        }
    }
    order
}

/// Accepts a proposal only if every transaction decodes and their gas limits together
/// stay within the block gas budget (`max_block_gas`).
pub fn acceptable<T: AsRef<[u8]>>(txs: &[T], params: &Params) -> bool {
    let mut gas = 0u64;
    for tx in txs {
        let Ok(decoded) = decode(tx.as_ref(), params) else {
            return false;
        };
        gas = gas.saturating_add(decoded.body.gas_limit);
        if gas > params.max_block_gas {
            return false;
        }
    }
    true
}

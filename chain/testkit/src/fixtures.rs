//! Test fixtures: deterministic keys, a genesis document, signed transfers.

use ed25519_dalek::SigningKey;
use taochain_primitives::{Address, Msg, TxBody};

/// The chain id fixtures use.
pub const CHAIN_ID: &str = "taochain-test";
/// The fee every fixture transaction pays: what [`CONTRACT_GAS`] needs at the default
/// minimum gas price (0.1 rao per gas), so transfers and contract calls pay the same.
pub const FEE: u64 = 30_000_000;
/// A gas limit that covers any small transaction.
pub const GAS: u64 = 1_000_000;

/// A deterministic signing key.
pub fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i.wrapping_add(1); 32])
}

/// The address of [`key`]`(i)`.
pub fn addr(i: u8) -> Address {
    Address::from_public_key(&key(i).verifying_key().to_bytes())
}

/// Genesis `app_state` funding keys `0..n` with `balance` rao each.
pub fn genesis(n: u8, balance: u64) -> serde_json::Value {
    let accounts: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({ "address": addr(i).to_string(), "balance": balance.to_string() }))
        .collect();
    serde_json::json!({
        "accounts": accounts,
        "total_issuance": (u64::from(n) * balance).to_string(),
    })
}

/// A body with one transfer.
pub fn transfer_body(nonce: u64, to: Address, amount: u64) -> TxBody {
    TxBody {
        chain_id: CHAIN_ID.into(),
        nonce,
        fee: FEE,
        gas_limit: GAS,
        msgs: vec![Msg::Transfer { to, amount }],
    }
}

/// Encoded signed transaction of `msgs` from key `from`.
pub fn signed(from: u8, nonce: u64, msgs: Vec<Msg>) -> Vec<u8> {
    TxBody {
        chain_id: CHAIN_ID.into(),
        nonce,
        fee: FEE,
        gas_limit: CONTRACT_GAS,
        msgs,
    }
    .sign(&key(from))
    .encode()
}

/// A gas limit for contract transactions (an upload of ~60 KB costs ~120M).
pub const CONTRACT_GAS: u64 = 300_000_000;

/// Encoded signed transfer from key `from`.
pub fn transfer(from: u8, nonce: u64, to: Address, amount: u64) -> Vec<u8> {
    transfer_body(nonce, to, amount).sign(&key(from)).encode()
}

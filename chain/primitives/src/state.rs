//! State value encodings that clients decode from queries: accounts, supply, parameters.
//! All are borsh; golden-byte tests pin them because the app hash commits to these bytes.

use alloc::string::String;
use borsh::{BorshDeserialize, BorshSerialize};

/// One account: balance and next nonce under one key, so a transfer touches two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Account {
    /// Balance in rao.
    pub balance: u64,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
}

/// Chain-wide supply accounting. Invariant: `total_issuance == genesis_issuance +
/// total_minted - total_recycled == sum of all balances`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Supply {
    /// TAO in existence now, in rao. Drives the halving schedule.
    pub total_issuance: u64,
    /// Issuance at genesis.
    pub genesis_issuance: u64,
    /// Everything minted by the block reward since genesis.
    pub total_minted: u64,
    /// Everything recycled (fees) since genesis.
    pub total_recycled: u64,
}

/// Chain parameters (set at genesis; governance changes them in a later issue).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct Params {
    /// Largest accepted encoded `SignedTx`, in bytes.
    pub max_tx_bytes: u32,
    /// Most messages in one transaction.
    pub max_msgs: u32,
    /// Smallest fee, in rao, a transaction may carry. Fees are recycled.
    pub min_fee: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            // Large enough for a contract upload (code is capped at 1 MiB by the VM).
            max_tx_bytes: 1_200_000,
            max_msgs: 64,
            min_fee: 1_000,
        }
    }
}

/// Gas a transaction needs: a base plus a price per message and per byte.
pub mod gas {
    /// Gas charged to every transaction.
    pub const BASE: u64 = 10_000;
    /// Gas per message.
    pub const PER_MSG: u64 = 5_000;
    /// Gas per encoded byte.
    pub const PER_BYTE: u64 = 10;

    /// Gas for a transaction of `msgs` messages and `bytes` encoded bytes.
    pub fn required(msgs: usize, bytes: usize) -> u64 {
        BASE.saturating_add(PER_MSG.saturating_mul(msgs as u64))
            .saturating_add(PER_BYTE.saturating_mul(bytes as u64))
    }
}

/// A stored contract code.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CodeRecord {
    /// sha256 of the module (the blob key).
    pub checksum: [u8; 32],
    /// Module size in bytes.
    pub size: u64,
    /// Who stored it.
    pub creator: crate::Address,
}

/// A stored blob (its bytes live outside the tree, under their sha256).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlobRecord {
    /// Length in bytes.
    pub size: u64,
    /// Who stored it first.
    pub owner: crate::Address,
    /// Block it was stored in (contracts can use it from the next block on).
    pub height: u64,
    /// Pins held by contracts (jobs using it); the last unpin prunes the blob.
    pub pins: u32,
}

/// Largest blob, bytes (a 512 x 512 int32 `.npy` is 1 MiB + 128; a transaction is at most
/// `max_tx_bytes`).
pub const MAX_BLOB_BYTES: usize = 1_100_000;

/// Gas per stored blob byte (the bytes are written to disk and kept).
pub const BLOB_GAS_PER_BYTE: u64 = 20;

/// A contract instance.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ContractRecord {
    /// Its current code.
    pub code_id: u64,
    /// Who may migrate it.
    pub admin: Option<crate::Address>,
    /// Label.
    pub label: String,
    /// Who created it.
    pub creator: crate::Address,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_pinned() {
        let account = Account {
            balance: 0x0102,
            nonce: 3,
        };
        assert_eq!(
            borsh::to_vec(&account).expect("encodes"),
            [2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
        );
        let supply = Supply {
            total_issuance: 1,
            genesis_issuance: 2,
            total_minted: 3,
            total_recycled: 4,
        };
        let bytes = borsh::to_vec(&supply).expect("encodes");
        assert_eq!(bytes.len(), 32);
        assert_eq!((bytes[0], bytes[8], bytes[16], bytes[24]), (1, 2, 3, 4));
        let params = Params {
            max_tx_bytes: 1,
            max_msgs: 2,
            min_fee: 3,
        };
        assert_eq!(
            borsh::to_vec(&params).expect("encodes"),
            [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
        );
    }
}

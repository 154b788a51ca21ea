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

/// Chain parameters (set at genesis; governance changes them within [`CHAIN_PARAMS`]).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(default, deny_unknown_fields))]
pub struct Params {
    /// Largest accepted encoded `SignedTx`, in bytes.
    pub max_tx_bytes: u32,
    /// Most messages in one transaction.
    pub max_msgs: u32,
    /// Smallest fee, in rao, a transaction may carry. Fees are recycled.
    pub min_fee: u64,
    /// Smallest gas price, in milli-rao (1/1000 rao) per gas: a transaction's fee must be
    /// at least `ceil(gas_limit * min_gas_price / 1000)` (and at least `min_fee`).
    pub min_gas_price: u64,
    /// Largest `gas_limit` one transaction may sign for.
    pub max_tx_gas: u64,
    /// Most gas (the sum of the transactions' `gas_limit`) one block may hold; also
    /// CometBFT's `block.max_gas` in the genesis the localnet writes.
    pub max_block_gas: u64,
}

/// Gas prices are in milli-rao per gas.
pub const GAS_PRICE_DENOMINATOR: u64 = 1000;

/// Every chain parameter governance may set, with its safe range (inclusive). A value
/// outside it is refused at proposal submission and at genesis: no setting can make the
/// chain unusable (a `min_fee` of `u64::MAX` would price out the votes that undo it).
pub const CHAIN_PARAMS: [(&str, u64, u64); 6] = [
    // A contract upload (512 KiB of code) and its envelope must fit.
    ("max_tx_bytes", 600_000, 4_000_000),
    ("max_msgs", 1, 256),
    // At most 0.01 TAO.
    ("min_fee", 0, 10_000_000),
    // At most 10 rao per gas: a full transaction (1.2G gas) then costs 12 TAO.
    ("min_gas_price", 0, 10_000),
    // 10M gas (~10 ms) to 10G gas (~10 s): enough for a 512 KiB upload at the low end of
    // what is useful, never a block that stalls consensus at the high end.
    ("max_tx_gas", 10_000_000, 10_000_000_000),
    ("max_block_gas", 10_000_000, 20_000_000_000),
];

impl Default for Params {
    fn default() -> Self {
        Params {
            // Large enough for a contract upload (code is capped at 512 KiB by the VM).
            max_tx_bytes: 1_200_000,
            max_msgs: 64,
            min_fee: 1_000,
            // 0.1 rao per gas: 1 ms of execution (1M gas) costs 100,000 rao.
            min_gas_price: 100,
            // ~1.2 s of work on the slowest path: the largest contract upload fits.
            max_tx_gas: 1_200_000_000,
            // ~3 s of a 12 s block.
            max_block_gas: 3_000_000_000,
        }
    }
}

impl Params {
    /// The smallest fee a transaction signing for `gas_limit` gas may carry:
    /// `max(min_fee, ceil(gas_limit * min_gas_price / 1000))`, in u128 (saturating at
    /// `u64::MAX`, which no balance can pay).
    pub fn required_fee(&self, gas_limit: u64) -> u64 {
        let priced = (u128::from(gas_limit) * u128::from(self.min_gas_price))
            .div_ceil(u128::from(GAS_PRICE_DENOMINATOR));
        u64::try_from(priced).unwrap_or(u64::MAX).max(self.min_fee)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<u64> {
        Some(match name {
            "max_tx_bytes" => u64::from(self.max_tx_bytes),
            "max_msgs" => u64::from(self.max_msgs),
            "min_fee" => self.min_fee,
            "min_gas_price" => self.min_gas_price,
            "max_tx_gas" => self.max_tx_gas,
            "max_block_gas" => self.max_block_gas,
            _ => return None,
        })
    }

    /// Sets `name` to `value` if it is one of [`CHAIN_PARAMS`] and the result is
    /// [`Params::validate`]; `Err` says why not (and nothing changes).
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        let mut next = self.clone();
        match name {
            "max_tx_bytes" => next.max_tx_bytes = u32::try_from(value).unwrap_or(u32::MAX),
            "max_msgs" => next.max_msgs = u32::try_from(value).unwrap_or(u32::MAX),
            "min_fee" => next.min_fee = value,
            "min_gas_price" => next.min_gas_price = value,
            "max_tx_gas" => next.max_tx_gas = value,
            "max_block_gas" => next.max_block_gas = value,
            _ => return Err(alloc::format!("unknown chain parameter `{name}`")),
        }
        if next.get(name) != Some(value) {
            return Err(alloc::format!("{name} = {value} is out of range"));
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Every field within its [`CHAIN_PARAMS`] range, and one transaction's gas within a
    /// block's.
    pub fn validate(&self) -> Result<(), String> {
        for (name, lo, hi) in CHAIN_PARAMS {
            let v = self.get(name).unwrap_or(0);
            if v < lo || v > hi {
                return Err(alloc::format!("{name} = {v} is outside [{lo}, {hi}]"));
            }
        }
        if self.max_tx_gas > self.max_block_gas {
            return Err(alloc::format!(
                "max_tx_gas {} exceeds max_block_gas {}",
                self.max_tx_gas,
                self.max_block_gas
            ));
        }
        Ok(())
    }
}

/// The answer of the `/simulate` query: what a transaction would do at the latest state.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Simulation {
    /// 0 when it would succeed, else its rejection code.
    pub code: u32,
    /// Why it would fail.
    pub log: String,
    /// Gas it used (intrinsic plus what its messages used).
    pub gas_used: u64,
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
            min_gas_price: 4,
            max_tx_gas: 5,
            max_block_gas: 6,
        };
        let bytes = borsh::to_vec(&params).expect("encodes");
        assert_eq!(bytes.len(), 40);
        assert_eq!(
            (
                bytes[0], bytes[4], bytes[8], bytes[16], bytes[24], bytes[32]
            ),
            (1, 2, 3, 4, 5, 6)
        );
    }

    #[test]
    fn the_fee_covers_the_gas_limit_at_the_minimum_price() {
        let p = Params::default();
        // 0.1 rao per gas, rounded up, never below min_fee.
        assert_eq!(p.required_fee(0), p.min_fee);
        assert_eq!(p.required_fee(1_000_000), 100_000);
        assert_eq!(p.required_fee(1_000_001), 100_001);
        assert_eq!(p.required_fee(u64::MAX), u64::MAX.div_ceil(10));
        let dear = Params {
            min_gas_price: 10_000,
            ..p
        };
        assert_eq!(dear.required_fee(u64::MAX), u64::MAX, "saturates");
    }

    #[test]
    fn every_chain_parameter_has_a_safe_range() {
        let mut p = Params::default();
        p.validate().expect("defaults are in range");
        for (name, lo, hi) in CHAIN_PARAMS {
            if hi < u64::MAX {
                assert!(p.clone().set(name, hi + 1).is_err(), "{name} above {hi}");
            }
            if lo > 0 {
                assert!(p.clone().set(name, lo - 1).is_err(), "{name} below {lo}");
            }
        }
        assert!(p.set("min_fee", u64::MAX).is_err());
        assert!(
            p.set("max_tx_gas", p.max_block_gas + 1).is_err(),
            "tx above block"
        );
        assert!(p.set("no_such_param", 1).is_err());
        assert_eq!(p, Params::default(), "a refused set changes nothing");
        p.set("min_gas_price", 0).expect("in range");
        assert_eq!(p.min_gas_price, 0);
    }
}

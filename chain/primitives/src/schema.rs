//! The state keys, each with the type of the value stored under it: every prefix and key
//! layout inside the authenticated tree, the one definition that the state machine reads
//! and writes and a light client recomputes to check a proof.
//!
//! A [`Key<V>`] is the bytes of one key and, in its type, the value `V` it holds; a
//! [`Table<V>`] is a prefix whose every key holds a `V`. Every value is borsh (presence
//! markers are `()`, which encodes to no bytes; [`Raw`] is bytes stored as they are).
//! Netuids and UIDs are u16 BE, ids u64 BE, addresses 20 bytes, so prefix scans run in
//! numeric order. Pure and `no_std`: how the keys are stored (RocksDB columns, the tree's
//! own tables) is `taochain-storage`'s business, which re-exports this module.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::marker::PhantomData;

use borsh::io::{Read, Result as IoResult, Write};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::axon::AxonInfo;
use crate::channel::Channel;
use crate::state::{Account, BlobRecord, CodeRecord, ContractRecord, Params, Supply};
use crate::subnet::{
    EconomyParams, HotkeyInfo, Neuron, PeriodEnd, PoolShare, Proposal, StakeLock, StakePool,
    SubnetInfo, VoteRecord,
};

/// One state key and, in its type, the value stored under it.
pub struct Key<V> {
    bytes: Cow<'static, [u8]>,
    value: PhantomData<fn() -> V>,
}

impl<V> Key<V> {
    /// A key known at compile time.
    pub const fn fixed(bytes: &'static [u8]) -> Self {
        Key {
            bytes: Cow::Borrowed(bytes),
            value: PhantomData,
        }
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key's bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes.into_owned()
    }
}

impl<V> Clone for Key<V> {
    fn clone(&self) -> Self {
        Key {
            bytes: self.bytes.clone(),
            value: PhantomData,
        }
    }
}

impl<V> core::fmt::Debug for Key<V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Key({:?})",
            alloc::string::String::from_utf8_lossy(&self.bytes)
        )
    }
}

/// A prefix under which every key holds a `V`.
pub struct Table<V> {
    prefix: &'static [u8],
    value: PhantomData<fn() -> V>,
}

impl<V> Table<V> {
    /// The table under `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Table {
            prefix,
            value: PhantomData,
        }
    }

    /// The prefix's bytes.
    pub const fn prefix(&self) -> &'static [u8] {
        self.prefix
    }

    /// The key of the prefix followed by `parts`.
    pub fn at(&self, parts: &[&[u8]]) -> Key<V> {
        Key {
            bytes: Cow::Owned(self.under(parts)),
            value: PhantomData,
        }
    }

    /// The bytes of the prefix followed by `parts`: a narrower prefix to scan.
    pub fn under(&self, parts: &[&[u8]]) -> Vec<u8> {
        let len = self.prefix.len() + parts.iter().map(|p| p.len()).sum::<usize>();
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(self.prefix);
        for p in parts {
            bytes.extend_from_slice(p);
        }
        bytes
    }

    /// What follows the prefix in `key` (empty if `key` is not under it).
    pub fn suffix<'k>(&self, key: &'k Key<V>) -> &'k [u8] {
        key.as_bytes().get(self.prefix.len()..).unwrap_or_default()
    }

    /// The typed key of a full key found by a scan of this table (`None`: not under it).
    pub fn key_of(&self, bytes: &[u8]) -> Option<Key<V>> {
        bytes.starts_with(self.prefix).then(|| Key {
            bytes: Cow::Owned(bytes.to_vec()),
            value: PhantomData,
        })
    }
}

/// Bytes stored as they are (contract storage, the chain id): no length prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Raw(pub Vec<u8>);

impl BorshSerialize for Raw {
    fn serialize<W: Write>(&self, writer: &mut W) -> IoResult<()> {
        writer.write_all(&self.0)
    }
}

impl BorshDeserialize for Raw {
    fn deserialize_reader<R: Read>(reader: &mut R) -> IoResult<Self> {
        // `borsh::io::Read` has no `read_to_end` without `std`.
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 256];
        loop {
            match reader.read(&mut chunk)? {
                0 => return Ok(Raw(bytes)),
                n => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// A weights commit: the hash and the block it was made in.
pub type Commits = Vec<([u8; 32], u64)>;

/// A lock-cost record: `(lock, block)` of a subnet registration.
pub type LockRecord = (u64, u64);

// Chain and accounts.

/// `acct/` ++ address (20 bytes) -> `Account`.
pub const ACCOUNTS: Table<Account> = Table::new(b"acct/");
/// The supply record.
pub const SUPPLY_KEY: Key<Supply> = Key::fixed(b"supply");
/// The chain parameters.
pub const PARAMS_KEY: Key<Params> = Key::fixed(b"params");
/// The chain id as UTF-8 bytes.
pub const CHAIN_ID_KEY: Key<Raw> = Key::fixed(b"chain_id");

/// The state key of an account.
pub fn account_key(address: &[u8; 20]) -> Key<Account> {
    ACCOUNTS.at(&[address])
}

// Code and contracts.

/// The last code id (u64).
pub const CODE_SEQ_KEY: Key<u64> = Key::fixed(b"code_seq");
/// `code/` ++ code id (u64 BE) -> `CodeRecord`.
pub const CODES: Table<CodeRecord> = Table::new(b"code/");
/// Contracts created so far (u64), for address derivation.
pub const CONTRACT_SEQ_KEY: Key<u64> = Key::fixed(b"contract_seq");
/// `contract/` ++ address (20) -> `ContractRecord`.
pub const CONTRACTS: Table<ContractRecord> = Table::new(b"contract/");
/// `cstore/` ++ address (20) ++ contract key -> raw value (contract storage).
pub const CONTRACT_STORE: Table<Raw> = Table::new(b"cstore/");

/// The state key of a code record.
pub fn code_key(code_id: u64) -> Key<CodeRecord> {
    CODES.at(&[&code_id.to_be_bytes()])
}

/// The state key of a contract record.
pub fn contract_key(address: &[u8; 20]) -> Key<ContractRecord> {
    CONTRACTS.at(&[address])
}

/// The state key of one entry of a contract's storage.
pub fn contract_store_key(address: &[u8; 20], key: &[u8]) -> Key<Raw> {
    CONTRACT_STORE.at(&[address, key])
}

// Blobs.

/// `blob/` ++ sha256 (32) -> `BlobRecord` (the bytes are in `blobs`).
pub const BLOBS: Table<BlobRecord> = Table::new(b"blob/");
/// `codehash/` ++ sha256 (32) -> present: the blob is contract code (never pruned).
pub const CODE_HASHES: Table<()> = Table::new(b"codehash/");
/// `blob_prune/` ++ sha256 (32) -> present: blobs unpinned to zero in this block, pruned
/// at its end (the table is empty between blocks).
pub const BLOB_PRUNE: Table<()> = Table::new(b"blob_prune/");
/// `blobpin/` ++ sha256 (32) ++ contract (20) -> u32: the pins one contract holds on a
/// blob (it can remove only those).
pub const BLOB_PINS: Table<u32> = Table::new(b"blobpin/");

/// `blob/` key.
pub fn blob_key(hash: &[u8; 32]) -> Key<BlobRecord> {
    BLOBS.at(&[hash])
}
/// `codehash/` key.
pub fn code_hash_key(hash: &[u8; 32]) -> Key<()> {
    CODE_HASHES.at(&[hash])
}
/// `blob_prune/` key.
pub fn blob_prune_key(hash: &[u8; 32]) -> Key<()> {
    BLOB_PRUNE.at(&[hash])
}
/// `blobpin/` key.
pub fn blob_pin_key(hash: &[u8; 32], contract: &[u8; 20]) -> Key<u32> {
    BLOB_PINS.at(&[hash, contract])
}

// The economy (subnets, neurons, staking, weights, root, governance).

/// The economy parameters.
pub const ECONOMY_PARAMS_KEY: Key<EconomyParams> = Key::fixed(b"econ/params");
/// `(last_lock, block)` of the last subnet registration.
pub const LAST_LOCK_KEY: Key<LockRecord> = Key::fixed(b"econ/last_lock");
/// `(netuid, share_q32)` pairs, the root epoch's subnet shares.
pub const SUBNET_SHARES_KEY: Key<Vec<(u16, u64)>> = Key::fixed(b"econ/shares");
/// Block-reward rao not yet assigned to any subnet's pot.
pub const EMISSION_CARRY_KEY: Key<u64> = Key::fixed(b"econ/carry");
/// All stake on all hotkeys.
pub const TOTAL_STAKE_KEY: Key<u64> = Key::fixed(b"econ/total_stake");
/// The last proposal id.
pub const PROPOSAL_SEQ_KEY: Key<u64> = Key::fixed(b"econ/proposal_seq");
/// Root UIDs in use.
pub const ROOT_N_KEY: Key<u16> = Key::fixed(b"econ/root_n");

/// `subnet/` ++ netuid -> `SubnetInfo`.
pub const SUBNETS: Table<SubnetInfo> = Table::new(b"subnet/");
/// `lockprev/` ++ netuid -> the last-lock record a subnet's registration replaced
/// (restored when it is dissolved while still the last one).
pub const LOCK_PREV: Table<LockRecord> = Table::new(b"lockprev/");
/// `pot/` ++ netuid -> u64, the subnet's pending emission.
pub const POTS: Table<u64> = Table::new(b"pot/");
/// `neuron/` ++ netuid ++ uid -> `Neuron` (netuid 0 is root).
pub const NEURONS: Table<Neuron> = Table::new(b"neuron/");
/// `uid/` ++ netuid ++ hotkey -> u16.
pub const UIDS: Table<u16> = Table::new(b"uid/");
/// `channel/{id u64 BE}` -> a payment channel.
pub const CHANNELS: Table<Channel> = Table::new(b"channel/");
/// The last channel id.
pub const CHANNEL_SEQ_KEY: Key<u64> = Key::fixed(b"channel_seq");
/// `gwshare/{netuid u16 BE}` -> the subnet's gateway share, basis points (absent: the
/// default).
pub const GATEWAY_SHARES: Table<u64> = Table::new(b"gwshare/");
/// `axon/{netuid u16 BE}{uid u16 BE}` -> the UID's served axon.
pub const AXONS: Table<AxonInfo> = Table::new(b"axon/");
/// `hotkey/` ++ hotkey -> `HotkeyInfo`.
pub const HOTKEYS: Table<HotkeyInfo> = Table::new(b"hotkey/");
/// `stake/` ++ hotkey ++ coldkey -> u64.
pub const STAKES: Table<u64> = Table::new(b"stake/");
/// `cstake/` ++ coldkey -> u64, the coldkey's stake over all hotkeys.
pub const COLD_STAKES: Table<u64> = Table::new(b"cstake/");
/// `commit/` ++ netuid ++ hotkey -> `Commits`.
pub const COMMITS: Table<Commits> = Table::new(b"commit/");
/// `proposal/` ++ id -> `Proposal`.
pub const PROPOSALS: Table<Proposal> = Table::new(b"proposal/");
/// `vote/` ++ id ++ voter -> `VoteRecord` (choice, stake at vote time).
pub const VOTES: Table<VoteRecord> = Table::new(b"vote/");
/// `gov_open/` ++ voting_end (u64 BE) ++ id -> present; open proposals by end block.
pub const GOV_OPEN: Table<()> = Table::new(b"gov_open/");

/// `subnet/` key.
pub fn subnet_key(netuid: u16) -> Key<SubnetInfo> {
    SUBNETS.at(&[&netuid.to_be_bytes()])
}
/// `lockprev/` key.
pub fn lock_prev_key(netuid: u16) -> Key<LockRecord> {
    LOCK_PREV.at(&[&netuid.to_be_bytes()])
}
/// `pot/` key.
pub fn pot_key(netuid: u16) -> Key<u64> {
    POTS.at(&[&netuid.to_be_bytes()])
}
/// `neuron/` key.
pub fn neuron_key(netuid: u16, uid: u16) -> Key<Neuron> {
    NEURONS.at(&[&netuid.to_be_bytes(), &uid.to_be_bytes()])
}
/// `channel/` key.
pub fn channel_key(id: u64) -> Key<Channel> {
    CHANNELS.at(&[&id.to_be_bytes()])
}
/// `gwshare/` key.
pub fn gateway_share_key(netuid: u16) -> Key<u64> {
    GATEWAY_SHARES.at(&[&netuid.to_be_bytes()])
}
/// `axon/` key.
pub fn axon_key(netuid: u16, uid: u16) -> Key<AxonInfo> {
    AXONS.at(&[&netuid.to_be_bytes(), &uid.to_be_bytes()])
}
/// `uid/` key.
pub fn uid_key(netuid: u16, hotkey: &[u8; 20]) -> Key<u16> {
    UIDS.at(&[&netuid.to_be_bytes(), hotkey])
}
/// `hotkey/` key.
pub fn hotkey_key(hotkey: &[u8; 20]) -> Key<HotkeyInfo> {
    HOTKEYS.at(&[hotkey])
}
/// `stake/` key.
pub fn stake_key(hotkey: &[u8; 20], coldkey: &[u8; 20]) -> Key<u64> {
    STAKES.at(&[hotkey, coldkey])
}
/// `cstake/` key.
pub fn cold_stake_key(coldkey: &[u8; 20]) -> Key<u64> {
    COLD_STAKES.at(&[coldkey])
}
/// `commit/` key.
pub fn commit_key(netuid: u16, hotkey: &[u8; 20]) -> Key<Commits> {
    COMMITS.at(&[&netuid.to_be_bytes(), hotkey])
}
/// `proposal/` key.
pub fn proposal_key(id: u64) -> Key<Proposal> {
    PROPOSALS.at(&[&id.to_be_bytes()])
}
/// `vote/` key.
pub fn vote_key(id: u64, voter: &[u8; 20]) -> Key<VoteRecord> {
    VOTES.at(&[&id.to_be_bytes(), voter])
}
/// `gov_open/` key.
pub fn gov_open_key(voting_end: u64, id: u64) -> Key<()> {
    GOV_OPEN.at(&[&voting_end.to_be_bytes(), &id.to_be_bytes()])
}

// Nominator pools (F1 reward-per-share) and stake locks.

/// `pool/` ++ hotkey -> `StakePool`.
pub const POOLS: Table<StakePool> = Table::new(b"pool/");
/// `share/` ++ hotkey ++ coldkey -> `PoolShare`.
pub const SHARES: Table<PoolShare> = Table::new(b"share/");
/// `period/` ++ hotkey ++ period (u64 BE) -> `PeriodEnd`.
pub const PERIODS: Table<PeriodEnd> = Table::new(b"period/");
/// `hlock/` ++ hotkey -> `StakeLock` (the stake that won a root seat).
pub const HOTKEY_LOCKS: Table<StakeLock> = Table::new(b"hlock/");
/// `clock/` ++ coldkey -> `StakeLock` (stake behind open governance votes).
pub const COLD_LOCKS: Table<StakeLock> = Table::new(b"clock/");

/// `pool/` key.
pub fn pool_key(hotkey: &[u8; 20]) -> Key<StakePool> {
    POOLS.at(&[hotkey])
}
/// `share/` key.
pub fn share_key(hotkey: &[u8; 20], coldkey: &[u8; 20]) -> Key<PoolShare> {
    SHARES.at(&[hotkey, coldkey])
}
/// `period/` key.
pub fn period_key(hotkey: &[u8; 20], period: u64) -> Key<PeriodEnd> {
    PERIODS.at(&[hotkey, &period.to_be_bytes()])
}
/// `hlock/` key.
pub fn hotkey_lock_key(hotkey: &[u8; 20]) -> Key<StakeLock> {
    HOTKEY_LOCKS.at(&[hotkey])
}
/// `clock/` key.
pub fn cold_lock_key(coldkey: &[u8; 20]) -> Key<StakeLock> {
    COLD_LOCKS.at(&[coldkey])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_the_documented_bytes() {
        let a = [7u8; 20];
        assert_eq!(
            account_key(&a).as_bytes(),
            [b"acct/".as_slice(), &a].concat()
        );
        assert_eq!(
            neuron_key(3, 9).as_bytes(),
            [b"neuron/".as_slice(), &[0, 3], &[0, 9]].concat()
        );
        assert_eq!(
            gov_open_key(5, 2).into_bytes(),
            [
                b"gov_open/".as_slice(),
                &5u64.to_be_bytes(),
                &2u64.to_be_bytes()
            ]
            .concat()
        );
        assert!(SUBNETS.key_of(b"pot/\0\x01").is_none());
        assert_eq!(
            SUBNETS.key_of(b"subnet/\0\x01").map(|k| k.into_bytes()),
            Some(subnet_key(1).into_bytes())
        );
    }

    #[test]
    fn raw_and_markers_store_their_bytes_as_they_are() {
        assert_eq!(
            borsh::to_vec(&Raw(b"taochain".to_vec())).expect("borsh"),
            b"taochain"
        );
        assert_eq!(borsh::from_slice::<Raw>(b"").expect("borsh"), Raw(vec![]));
        assert_eq!(
            borsh::from_slice::<Raw>(b"\0\x01").expect("borsh"),
            Raw(vec![0, 1])
        );
        assert!(borsh::to_vec(&()).expect("borsh").is_empty());
        assert!(borsh::from_slice::<()>(b"x").is_err());
    }
}

//! The state keys: every prefix and key layout inside the authenticated tree, the one
//! definition that the state machine writes and a light client recomputes to check a proof.
//!
//! A state key is a prefix below followed by the component's own layout; every value is
//! borsh. Netuids and UIDs are u16 BE, ids u64 BE, addresses 20 bytes, so prefix scans run
//! in numeric order. Pure and `no_std`: how the keys are stored (RocksDB columns, the tree's
//! own tables) is `taochain-storage`'s business, which re-exports this module.

use alloc::vec::Vec;

/// State key prefix: `acct/` ++ address (20 bytes) -> borsh `Account`.
pub const ACCOUNT_PREFIX: &[u8] = b"acct/";
/// State key: borsh `Supply`.
pub const SUPPLY_KEY: &[u8] = b"supply";
/// State key: borsh `Params`.
pub const PARAMS_KEY: &[u8] = b"params";
/// State key: the chain id as UTF-8 bytes.
pub const CHAIN_ID_KEY: &[u8] = b"chain_id";

/// State key: next code id (borsh u64).
pub const CODE_SEQ_KEY: &[u8] = b"code_seq";
/// State key prefix: `code/` ++ code id (u64 BE) -> borsh `CodeRecord`.
pub const CODE_PREFIX: &[u8] = b"code/";
/// State key: contracts created so far (borsh u64), for address derivation.
pub const CONTRACT_SEQ_KEY: &[u8] = b"contract_seq";
/// State key prefix: `contract/` ++ address (20) -> borsh `ContractRecord`.
pub const CONTRACT_PREFIX: &[u8] = b"contract/";
/// State key prefix: `cstore/` ++ address (20) ++ contract key -> raw value (contract storage).
pub const CONTRACT_STORE_PREFIX: &[u8] = b"cstore/";

/// The state key of a code record.
pub fn code_key(code_id: u64) -> Vec<u8> {
    [CODE_PREFIX, &code_id.to_be_bytes()].concat()
}

/// The state key of a contract record.
pub fn contract_key(address: &[u8; 20]) -> Vec<u8> {
    [CONTRACT_PREFIX, address].concat()
}

/// The state key of one entry of a contract's storage.
pub fn contract_store_key(address: &[u8; 20], key: &[u8]) -> Vec<u8> {
    [CONTRACT_STORE_PREFIX, address, key].concat()
}

/// The state key of an account.
pub fn account_key(address: &[u8; 20]) -> Vec<u8> {
    let mut key = Vec::with_capacity(ACCOUNT_PREFIX.len() + 20);
    key.extend_from_slice(ACCOUNT_PREFIX);
    key.extend_from_slice(address);
    key
}

// The economy (subnets, neurons, staking, weights, root, governance). Netuids and UIDs
// are u16 BE, ids u64 BE, addresses 20 bytes, so prefix scans run in numeric order.

/// State key: borsh `EconomyParams`.
pub const ECONOMY_PARAMS_KEY: &[u8] = b"econ/params";
/// State key: borsh `(u64 last_lock, u64 block)` of the last subnet registration.
pub const LAST_LOCK_KEY: &[u8] = b"econ/last_lock";
/// State key: borsh `Vec<(u16 netuid, u64 share_q32)>`, the root epoch's subnet shares.
pub const SUBNET_SHARES_KEY: &[u8] = b"econ/shares";
/// State key: borsh u64, block-reward rao not yet assigned to any subnet's pot.
pub const EMISSION_CARRY_KEY: &[u8] = b"econ/carry";
/// State key: borsh u64, all stake on all hotkeys.
pub const TOTAL_STAKE_KEY: &[u8] = b"econ/total_stake";
/// State key: borsh u64, the last proposal id.
pub const PROPOSAL_SEQ_KEY: &[u8] = b"econ/proposal_seq";
/// Prefix: `subnet/` ++ netuid -> borsh `SubnetInfo`.
pub const SUBNET_PREFIX: &[u8] = b"subnet/";
/// Prefix: `pot/` ++ netuid -> borsh u64, the subnet's pending emission.
pub const POT_PREFIX: &[u8] = b"pot/";
/// Prefix: `neuron/` ++ netuid ++ uid -> borsh `Neuron` (netuid 0 is root).
pub const NEURON_PREFIX: &[u8] = b"neuron/";
/// Prefix: `uid/` ++ netuid ++ hotkey -> borsh u16.
pub const UID_PREFIX: &[u8] = b"uid/";
/// Prefix: `hotkey/` ++ hotkey -> borsh `HotkeyInfo`.
pub const HOTKEY_PREFIX: &[u8] = b"hotkey/";
/// Prefix: `stake/` ++ hotkey ++ coldkey -> borsh u64.
pub const STAKE_PREFIX: &[u8] = b"stake/";
/// Prefix: `cstake/` ++ coldkey -> borsh u64, the coldkey's stake over all hotkeys.
pub const COLD_STAKE_PREFIX: &[u8] = b"cstake/";
/// Prefix: `commit/` ++ netuid ++ hotkey -> borsh `Vec<([u8; 32], u64 block)>`.
pub const COMMIT_PREFIX: &[u8] = b"commit/";
/// Prefix: `proposal/` ++ id -> borsh `Proposal`.
pub const PROPOSAL_PREFIX: &[u8] = b"proposal/";
/// Prefix: `vote/` ++ id ++ voter -> borsh `VoteRecord` (choice, stake at vote time).
pub const VOTE_PREFIX: &[u8] = b"vote/";

/// `subnet/` key.
pub fn subnet_key(netuid: u16) -> Vec<u8> {
    [SUBNET_PREFIX, &netuid.to_be_bytes()].concat()
}
/// Prefix: `lockprev/` ++ netuid -> borsh `(u64, u64)`, the last-lock record a subnet's
/// registration replaced (restored when it is dissolved while still the last one).
pub const LOCK_PREV_PREFIX: &[u8] = b"lockprev/";
/// `lockprev/` key.
pub fn lock_prev_key(netuid: u16) -> Vec<u8> {
    [LOCK_PREV_PREFIX, &netuid.to_be_bytes()].concat()
}
/// `pot/` key.
pub fn pot_key(netuid: u16) -> Vec<u8> {
    [POT_PREFIX, &netuid.to_be_bytes()].concat()
}
/// `neuron/` key.
pub fn neuron_key(netuid: u16, uid: u16) -> Vec<u8> {
    [NEURON_PREFIX, &netuid.to_be_bytes(), &uid.to_be_bytes()].concat()
}
/// `uid/` key.
pub fn uid_key(netuid: u16, hotkey: &[u8; 20]) -> Vec<u8> {
    [UID_PREFIX, &netuid.to_be_bytes(), hotkey].concat()
}
/// `hotkey/` key.
pub fn hotkey_key(hotkey: &[u8; 20]) -> Vec<u8> {
    [HOTKEY_PREFIX, hotkey].concat()
}
/// `stake/` key.
pub fn stake_key(hotkey: &[u8; 20], coldkey: &[u8; 20]) -> Vec<u8> {
    [STAKE_PREFIX, hotkey, coldkey].concat()
}
/// `cstake/` key.
pub fn cold_stake_key(coldkey: &[u8; 20]) -> Vec<u8> {
    [COLD_STAKE_PREFIX, coldkey].concat()
}
/// `commit/` key.
pub fn commit_key(netuid: u16, hotkey: &[u8; 20]) -> Vec<u8> {
    [COMMIT_PREFIX, &netuid.to_be_bytes(), hotkey].concat()
}
/// `proposal/` key.
pub fn proposal_key(id: u64) -> Vec<u8> {
    [PROPOSAL_PREFIX, &id.to_be_bytes()].concat()
}
/// `vote/` key.
pub fn vote_key(id: u64, voter: &[u8; 20]) -> Vec<u8> {
    [VOTE_PREFIX, &id.to_be_bytes(), voter].concat()
}
/// Prefix: `blob/` ++ sha256 (32) -> borsh `BlobRecord` (the bytes are in `blobs`).
pub const BLOB_PREFIX: &[u8] = b"blob/";

/// Prefix: `codehash/` ++ sha256 (32) -> empty: the blob is contract code (never pruned).
pub const CODE_HASH_PREFIX: &[u8] = b"codehash/";

/// Prefix: `blob_prune/` ++ sha256 (32) -> empty: blobs unpinned to zero in this block,
/// pruned at its end (the prefix is empty between blocks).
pub const BLOB_PRUNE_PREFIX: &[u8] = b"blob_prune/";

/// Prefix: `blobpin/` ++ sha256 (32) ++ contract (20) -> borsh u32: the pins one contract
/// holds on a blob (it can remove only those).
pub const BLOB_PIN_PREFIX: &[u8] = b"blobpin/";

/// `blobpin/` key.
pub fn blob_pin_key(hash: &[u8; 32], contract: &[u8; 20]) -> Vec<u8> {
    [BLOB_PIN_PREFIX, hash, contract].concat()
}

/// `codehash/` key.
pub fn code_hash_key(hash: &[u8; 32]) -> Vec<u8> {
    [CODE_HASH_PREFIX, hash].concat()
}

/// `blob/` key.
pub fn blob_key(hash: &[u8; 32]) -> Vec<u8> {
    [BLOB_PREFIX, hash].concat()
}

/// State key: borsh u16, root UIDs in use.
pub const ROOT_N_KEY: &[u8] = b"econ/root_n";
/// Prefix: `gov_open/` ++ voting_end (u64 BE) ++ id -> empty; open proposals by end block.
pub const GOV_OPEN_PREFIX: &[u8] = b"gov_open/";

/// `gov_open/` key.
pub fn gov_open_key(voting_end: u64, id: u64) -> Vec<u8> {
    [
        GOV_OPEN_PREFIX,
        &voting_end.to_be_bytes(),
        &id.to_be_bytes(),
    ]
    .concat()
}

// Nominator pools (F1 reward-per-share) and stake locks.

/// Prefix: `pool/` ++ hotkey -> borsh `StakePool`.
pub const POOL_PREFIX: &[u8] = b"pool/";
/// Prefix: `share/` ++ hotkey ++ coldkey -> borsh `PoolShare`.
pub const SHARE_PREFIX: &[u8] = b"share/";
/// Prefix: `period/` ++ hotkey ++ period (u64 BE) -> borsh `PeriodEnd`.
pub const PERIOD_PREFIX: &[u8] = b"period/";
/// Prefix: `hlock/` ++ hotkey -> borsh `StakeLock` (the stake that won a root seat).
pub const HOTKEY_LOCK_PREFIX: &[u8] = b"hlock/";
/// Prefix: `clock/` ++ coldkey -> borsh `StakeLock` (stake behind open governance votes).
pub const COLD_LOCK_PREFIX: &[u8] = b"clock/";

/// `pool/` key.
pub fn pool_key(hotkey: &[u8; 20]) -> Vec<u8> {
    [POOL_PREFIX, hotkey].concat()
}
/// `share/` key.
pub fn share_key(hotkey: &[u8; 20], coldkey: &[u8; 20]) -> Vec<u8> {
    [SHARE_PREFIX, hotkey, coldkey].concat()
}
/// `period/` key.
pub fn period_key(hotkey: &[u8; 20], period: u64) -> Vec<u8> {
    [PERIOD_PREFIX, hotkey, &period.to_be_bytes()].concat()
}
/// `hlock/` key.
pub fn hotkey_lock_key(hotkey: &[u8; 20]) -> Vec<u8> {
    [HOTKEY_LOCK_PREFIX, hotkey].concat()
}
/// `clock/` key.
pub fn cold_lock_key(coldkey: &[u8; 20]) -> Vec<u8> {
    [COLD_LOCK_PREFIX, coldkey].concat()
}

//! The economy's state values and the bounds on them that clients need too: subnet
//! hyperparameters (with bounds), subnet, neuron, hotkey, stake-pool and proposal records,
//! economy parameters, and the views the economy's queries return. All borsh; amounts in
//! rao. The rules that compute with them (Yuma, the payout, pricing) are in
//! `taochain-economics`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::Address;
use crate::RAO_PER_TAO;

/// Per-subnet hyperparameters (reference/yuma.md defaults).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(default))]
pub struct Hyperparams {
    /// Blocks between epochs.
    pub tempo: u64,
    /// Consensus majority, u16 fraction.
    pub kappa: u64,
    /// UID slots.
    pub max_allowed_uids: u64,
    /// Validator permits per epoch (top-k stake).
    pub max_allowed_validators: u64,
    /// Blocks after registration during which a neuron cannot be replaced.
    pub immunity_period: u64,
    /// Fewest weights a non-self weight vector may set.
    pub min_allowed_weights: u64,
    /// Blocks between two weight updates of one hotkey.
    pub weights_rate_limit: u64,
    /// Blocks without a weight update after which a validator is inactive.
    pub activity_cutoff: u64,
    /// Bonds EMA memory, parts per million.
    pub bonds_moving_average: u64,
    /// Weights must be committed (hash) and revealed.
    pub commit_reveal: bool,
    /// Blocks between a commit and its reveal window (which lasts one period).
    pub reveal_period: u64,
}

impl Default for Hyperparams {
    fn default() -> Self {
        Hyperparams {
            tempo: 360,
            kappa: 32767,
            max_allowed_uids: 256,
            max_allowed_validators: 64,
            immunity_period: 5000,
            min_allowed_weights: 1,
            weights_rate_limit: 100,
            activity_cutoff: 5000,
            bonds_moving_average: 900_000,
            commit_reveal: false,
            reveal_period: 1,
        }
    }
}

/// Names of the settable hyperparameters with their inclusive bounds.
pub const HYPERPARAMS: [(&str, u64, u64); 11] = [
    ("tempo", 1, 10_000),
    ("kappa", 0, 65_535),
    ("max_allowed_uids", 1, 4096),
    ("max_allowed_validators", 1, 256),
    ("immunity_period", 0, 100_000),
    ("min_allowed_weights", 0, 4096),
    ("weights_rate_limit", 0, 100_000),
    ("activity_cutoff", 1, 100_000),
    ("bonds_moving_average", 0, 1_000_000),
    ("commit_reveal", 0, 1),
    ("reveal_period", 1, 10_000),
];

impl Hyperparams {
    /// Sets `name` to `value` within its bounds; `Err` says why not.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        let Some(&(_, lo, hi)) = HYPERPARAMS.iter().find(|h| h.0 == name) else {
            return Err(alloc::format!("unknown hyperparameter `{name}`"));
        };
        if value < lo || value > hi {
            return Err(alloc::format!("{name} = {value} is outside [{lo}, {hi}]"));
        }
        match name {
            "tempo" => self.tempo = value,
            "kappa" => self.kappa = value,
            "max_allowed_uids" => self.max_allowed_uids = value,
            "max_allowed_validators" => self.max_allowed_validators = value,
            "immunity_period" => self.immunity_period = value,
            "min_allowed_weights" => self.min_allowed_weights = value,
            "weights_rate_limit" => self.weights_rate_limit = value,
            "activity_cutoff" => self.activity_cutoff = value,
            "bonds_moving_average" => self.bonds_moving_average = value,
            "commit_reveal" => self.commit_reveal = value == 1,
            _ => self.reveal_period = value,
        }
        self.validate()
    }

    /// Every field within bounds and consistent (validators <= UIDs).
    pub fn validate(&self) -> Result<(), String> {
        for (name, lo, hi) in HYPERPARAMS {
            let v = self.get(name).unwrap_or(0);
            if v < lo || v > hi {
                return Err(alloc::format!("{name} = {v} is outside [{lo}, {hi}]"));
            }
        }
        if self.max_allowed_validators > self.max_allowed_uids {
            return Err("max_allowed_validators exceeds max_allowed_uids".to_string());
        }
        Ok(())
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<u64> {
        Some(match name {
            "tempo" => self.tempo,
            "kappa" => self.kappa,
            "max_allowed_uids" => self.max_allowed_uids,
            "max_allowed_validators" => self.max_allowed_validators,
            "immunity_period" => self.immunity_period,
            "min_allowed_weights" => self.min_allowed_weights,
            "weights_rate_limit" => self.weights_rate_limit,
            "activity_cutoff" => self.activity_cutoff,
            "bonds_moving_average" => self.bonds_moving_average,
            "commit_reveal" => u64::from(self.commit_reveal),
            "reveal_period" => self.reveal_period,
            _ => return None,
        })
    }
}

/// Chain-wide economy parameters (governance can change them).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(default))]
pub struct EconomyParams {
    /// Most subnets (netuids 1..=limit).
    pub subnet_limit: u64,
    /// Lowest subnet lock cost.
    pub min_lock: u64,
    /// Blocks over which the doubled lock cost decays back (0: lock is always `min_lock`).
    pub lock_reduction_interval: u64,
    /// Hyperparameters of new subnets.
    pub default_hyperparams: Hyperparams,
    /// Blocks between root epochs.
    pub root_tempo: u64,
    /// Root UIDs (the top stakers set subnet weights).
    pub root_max_uids: u64,
    /// Blocks between two take increases of one hotkey.
    pub take_rate_limit: u64,
    /// Gas for a subnet contract's `epoch` call.
    pub epoch_gas: u64,
    /// Governance: blocks a proposal is open.
    pub voting_period: u64,
    /// Governance: share of all stake that must vote, basis points.
    pub quorum_bps: u64,
    /// Governance: yes / (yes + no) needed, basis points.
    pub threshold_bps: u64,
    /// Governance: smallest deposit.
    pub min_deposit: u64,
}

impl Default for EconomyParams {
    fn default() -> Self {
        EconomyParams {
            subnet_limit: 32,
            min_lock: 100 * RAO_PER_TAO,
            lock_reduction_interval: 14 * 7200,
            default_hyperparams: Hyperparams::default(),
            root_tempo: 360,
            root_max_uids: 64,
            take_rate_limit: 216_000,
            epoch_gas: 50_000_000,
            voting_period: 7200,
            quorum_bps: 2000,
            threshold_bps: 5000,
            min_deposit: 10 * RAO_PER_TAO,
        }
    }
}

/// Every economy parameter governance may set (besides `default_<hyperparam>`, bounded by
/// [`HYPERPARAMS`]), with its safe range (inclusive). A value outside it is refused at
/// proposal submission and at genesis.
pub const ECONOMY_PARAM_RANGES: [(&str, u64, u64); 11] = [
    ("subnet_limit", 1, u16::MAX as u64 - 1),
    // 1 TAO to 1M TAO.
    ("min_lock", RAO_PER_TAO, 1_000_000 * RAO_PER_TAO),
    ("lock_reduction_interval", 0, 10_000_000),
    ("root_tempo", 1, 100_000),
    ("root_max_uids", 1, 4096),
    ("take_rate_limit", 0, 10_000_000),
    // An epoch hook runs inside a block: at most ~0.2 s of work per subnet.
    ("epoch_gas", 1_000_000, 200_000_000),
    ("voting_period", 1, 1_000_000),
    ("quorum_bps", 1, 10_000),
    // A proposal never passes with less than half of the votes.
    ("threshold_bps", 5_000, 10_000),
    // 1 rao to 1M TAO.
    ("min_deposit", 1, 1_000_000 * RAO_PER_TAO),
];

/// Names of the global parameters governance may set (besides `default_<hyperparam>`):
/// the economy's and the chain's ([`crate::state::CHAIN_PARAMS`]).
pub const ECONOMY_PARAMS: [&str; 17] = [
    "subnet_limit",
    "min_lock",
    "lock_reduction_interval",
    "root_tempo",
    "root_max_uids",
    "take_rate_limit",
    "epoch_gas",
    "voting_period",
    "quorum_bps",
    "threshold_bps",
    "min_deposit",
    "max_tx_bytes",
    "max_msgs",
    "min_fee",
    "min_gas_price",
    "max_tx_gas",
    "max_block_gas",
];

impl EconomyParams {
    /// The value of `name` (an [`ECONOMY_PARAM_RANGES`] name).
    pub fn get(&self, name: &str) -> Option<u64> {
        Some(match name {
            "subnet_limit" => self.subnet_limit,
            "min_lock" => self.min_lock,
            "lock_reduction_interval" => self.lock_reduction_interval,
            "root_tempo" => self.root_tempo,
            "root_max_uids" => self.root_max_uids,
            "take_rate_limit" => self.take_rate_limit,
            "epoch_gas" => self.epoch_gas,
            "voting_period" => self.voting_period,
            "quorum_bps" => self.quorum_bps,
            "threshold_bps" => self.threshold_bps,
            "min_deposit" => self.min_deposit,
            _ => return None,
        })
    }

    /// Sets a parameter within its range (chain parameters such as `min_fee` live in
    /// [`crate::Params`] and are handled by the caller; `default_<hyperparam>` sets the
    /// default hyperparameters). `Err` says why not, and nothing changes.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        if let Some(h) = name.strip_prefix("default_") {
            let mut next = self.default_hyperparams.clone();
            next.set(h, value)?;
            self.default_hyperparams = next;
            return Ok(());
        }
        let Some(&(_, lo, hi)) = ECONOMY_PARAM_RANGES.iter().find(|r| r.0 == name) else {
            return Err(alloc::format!("unknown parameter `{name}`"));
        };
        if value < lo || value > hi {
            return Err(alloc::format!("{name} = {value} is outside [{lo}, {hi}]"));
        }
        let field = match name {
            "subnet_limit" => &mut self.subnet_limit,
            "min_lock" => &mut self.min_lock,
            "lock_reduction_interval" => &mut self.lock_reduction_interval,
            "root_tempo" => &mut self.root_tempo,
            "root_max_uids" => &mut self.root_max_uids,
            "take_rate_limit" => &mut self.take_rate_limit,
            "epoch_gas" => &mut self.epoch_gas,
            "voting_period" => &mut self.voting_period,
            "quorum_bps" => &mut self.quorum_bps,
            "threshold_bps" => &mut self.threshold_bps,
            _ => &mut self.min_deposit,
        };
        *field = value;
        Ok(())
    }

    /// Every parameter within its range and the default hyperparameters valid.
    pub fn validate(&self) -> Result<(), String> {
        for (name, lo, hi) in ECONOMY_PARAM_RANGES {
            let v = self.get(name).unwrap_or(0);
            if v < lo || v > hi {
                return Err(alloc::format!("{name} = {v} is outside [{lo}, {hi}]"));
            }
        }
        self.default_hyperparams.validate()
    }
}

/// Most take a hotkey may charge, basis points (18%).
pub const MAX_TAKE_BPS: u16 = 1800;
/// Most unrevealed weight commits per hotkey and subnet.
pub const MAX_COMMITS: usize = 10;

/// A subnet.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SubnetInfo {
    /// The owner's coldkey (receives the 18%, sets hyperparameters).
    pub owner: Address,
    /// The owner's hotkey (UID 0).
    pub owner_hotkey: Address,
    /// The subnet's contract.
    pub contract: Address,
    /// TAO locked at creation, refunded on dissolve.
    pub locked: u64,
    /// Creation block.
    pub registered_at: u64,
    /// Hyperparameters.
    pub hyperparams: Hyperparams,
    /// Burn price as last set, and the block it was set at.
    pub burn: u64,
    /// Block of the last burn update.
    pub burn_block: u64,
    /// Block of the last epoch (0: none yet).
    pub last_epoch: u64,
    /// UIDs in use (`0..n`).
    pub n: u16,
}

/// A UID on a subnet (or on root, where weights are over netuids).
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Neuron {
    /// Hotkey holding the UID.
    pub hotkey: Address,
    /// Registration block.
    pub registered_at: u64,
    /// Block of the last weights update.
    pub last_update: u64,
    /// Validator permit (from the last epoch).
    pub permit: bool,
    /// Last epoch's outputs (u16 fractions) and emission (rao).
    pub consensus: u16,
    /// Incentive.
    pub incentive: u16,
    /// Dividends.
    pub dividends: u16,
    /// Validator trust.
    pub trust: u16,
    /// Rao paid to this UID last epoch (miner + validator parts).
    pub emission: u64,
    /// Weights `(uid, value)`, values max-upscaled.
    pub weights: Vec<(u16, u16)>,
    /// Bonds `(uid, value)`, column max-upscaled.
    pub bonds: Vec<(u16, u16)>,
}

/// A hotkey: who owns it, its take and total stake.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct HotkeyInfo {
    /// Owning coldkey.
    pub owner: Address,
    /// Validator take, basis points.
    pub take_bps: u16,
    /// Block of the last take increase.
    pub take_changed_at: u64,
    /// Sum of all stake on this hotkey.
    pub total_stake: u64,
}

/// A hotkey's nominator pool, F1-style (as Cosmos' distribution module): an epoch adds
/// the nominators' part of the hotkey's dividends to one cumulative index instead of
/// paying every nominator, and each `(hotkey, coldkey)` pair settles what it earned when
/// its stake changes or it claims, so an epoch costs O(neurons), not O(nominations).
///
/// Stake added to a hotkey is *pending* until every subnet the hotkey is a neuron of (and
/// root, if it is a member) has had an epoch since: it earns nothing and no Yuma counts
/// it before it was there for a whole tempo.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct StakePool {
    /// Cumulative nominator reward per active staked rao, scaled by 10^18
    /// (`taochain_economics::payout::REWARD_SCALE`);
    /// wrapping (only differences are used, and each fits).
    pub acc: u128,
    /// Epochs that activated pending stake so far (the pool's period).
    pub period: u64,
    /// Stake added during the current period: not earning, not counted by Yuma.
    pub pending: u64,
    /// Block of the first addition of the current period.
    pub pending_since: u64,
    /// Block of the last addition.
    pub last_added: u64,
}

impl StakePool {
    /// The stake that earns and counts in Yuma: `total` minus pending.
    pub fn active(&self, total: u64) -> u64 {
        total.saturating_sub(self.pending)
    }
}

/// One `(hotkey, coldkey)` pair's place in the hotkey's [`StakePool`].
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct PoolShare {
    /// The pool's index when the pair's active stake was last settled.
    pub acc: u128,
    /// Stake added in period `pending_period` (active once the pool's period passes it).
    pub pending: u64,
    /// The period `pending` was added in.
    pub pending_period: u64,
}

/// The pool's index right after the epoch that ended a period, and the pending stake of
/// that period not yet settled (the record is deleted when it reaches zero).
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct PeriodEnd {
    /// [`StakePool::acc`] after that epoch's rewards.
    pub acc: u128,
    /// Pending stake of the period that pairs have not settled yet.
    pub unsettled: u64,
}

/// Stake that may not leave before a height: a governance vote's weight (per coldkey) or
/// the stake that won a root seat (per hotkey).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct StakeLock {
    /// The stake must stay at or above this many rao...
    pub amount: u64,
    /// ...through this block (inclusive).
    pub until: u64,
}

impl StakeLock {
    /// The lock in force at `height` (zero once it expired).
    pub fn at(&self, height: u64) -> u64 {
        if height <= self.until { self.amount } else { 0 }
    }

    /// This lock merged with another: the larger amount, the later end.
    pub fn merge(self, other: StakeLock, height: u64) -> StakeLock {
        StakeLock {
            amount: self.at(height).max(other.amount),
            until: self.until.max(other.until),
        }
    }
}

/// A vote as stored: the choice and the voter's stake when it voted (locked until the tally).
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VoteRecord {
    /// The choice.
    pub choice: VoteChoice,
    /// The voter's stake at vote time, rao.
    pub weight: u64,
}

/// What a proposal does when it passes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ProposalAction {
    /// Set a global parameter (see [`ECONOMY_PARAMS`], `default_<hyperparam>`, `min_fee`).
    SetParam {
        /// Name.
        name: String,
        /// Value.
        value: u64,
    } = 0,
    /// Migrate a subnet's contract to new code.
    MigrateSubnet {
        /// Subnet.
        netuid: u16,
        /// New code.
        code_id: u64,
        /// Migrate message.
        msg: Vec<u8>,
    } = 1,
    /// Dissolve a subnet (its lock goes back to its owner).
    DissolveSubnet {
        /// Subnet.
        netuid: u16,
    } = 2,
}

/// A vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum VoteChoice {
    /// For.
    Yes = 0,
    /// Against.
    No = 1,
    /// Counts for quorum only.
    Abstain = 2,
}

/// Where a proposal stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ProposalStatus {
    /// Voting.
    Open = 0,
    /// Passed and executed.
    Executed = 1,
    /// Passed but its action failed (the message says why).
    Failed(String) = 2,
    /// Quorum reached, threshold not.
    Rejected = 3,
    /// Quorum not reached (the deposit is burned).
    NoQuorum = 4,
}

/// A governance proposal.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// Id (1, 2, ...).
    pub id: u64,
    /// Proposer.
    pub proposer: Address,
    /// Action.
    pub action: ProposalAction,
    /// Deposit held.
    pub deposit: u64,
    /// Block it was submitted.
    pub submitted_at: u64,
    /// Last block of voting; tallied at the end of this block.
    pub voting_end: u64,
    /// Tallies (stake at tally), filled at the end.
    pub yes: u64,
    /// No.
    pub no: u64,
    /// Abstain.
    pub abstain: u64,
    /// Status.
    pub status: ProposalStatus,
    /// The contract of the subnet the action names, at submission (`None` for a parameter
    /// change): the action runs only on that subnet, never on one registered later on its
    /// netuid.
    pub subnet_contract: Option<Address>,
}

/// The commitment of a weights reveal: `sha256(borsh(hotkey, netuid, uids, values, salt,
/// version_key))`.
pub fn weights_commit_hash(
    hotkey: &Address,
    netuid: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u8],
    version_key: u64,
) -> [u8; 32] {
    let bytes =
        borsh::to_vec(&(hotkey, netuid, uids, values, salt, version_key)).unwrap_or_default();
    Sha256::digest(bytes).into()
}

/// One row of `/metagraph/{netuid}` (a computed view, borsh).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MetagraphRow {
    /// UID.
    pub uid: u16,
    /// Hotkey.
    pub hotkey: Address,
    /// Its owning coldkey.
    pub coldkey: Address,
    /// Total stake on the hotkey.
    pub stake: u64,
    /// Validator permit.
    pub permit: bool,
    /// Inside the activity cutoff.
    pub active: bool,
    /// Last epoch's consensus (u16 fraction).
    pub consensus: u16,
    /// Incentive.
    pub incentive: u16,
    /// Dividends.
    pub dividends: u16,
    /// Validator trust.
    pub trust: u16,
    /// rao paid last epoch.
    pub emission: u64,
    /// Block of the last weights update.
    pub last_update: u64,
    /// Registration block.
    pub registered_at: u64,
    /// Where its miner listens, if it served an axon.
    pub axon: Option<crate::axon::AxonInfo>,
}

/// `/subnets` entries and `/subnet/{netuid}/view` (a computed view, borsh).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SubnetView {
    /// Netuid.
    pub netuid: u16,
    /// The record.
    pub info: SubnetInfo,
    /// Pending emission.
    pub pot: u64,
    /// Current burn price.
    pub burn: u64,
    /// Share of the block reward, Q32 (0: equal shares).
    pub share_q32: u64,
}
